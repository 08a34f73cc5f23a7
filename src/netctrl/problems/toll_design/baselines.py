"""Reference tolls: none, the marginal-cost (Pigouvian) toll, and the closed forms of Pigou's and Braess's networks."""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .lower import Equilibrium, RoutingAgents
from .scenario import TollScenario, _replace_network


def marginal_cost_toll(scenario: TollScenario, **solver) -> tuple[np.ndarray, Equilibrium]:
    """The toll ``theta_e = x_e l'_e(x_e)`` at the flow that minimises the social cost (all arcs tolled).

    That flow is the agents' equilibrium under the marginal latency ``l + x l'`` (``t0 + k (1 + p) x^p``), so
    one lower-level solve gives it; with every arc tollable and no toll cost it is an optimum of
    :class:`~netctrl.problems.toll_design.objectives.SocialCost`. Returns ``(arc tolls, equilibrium under them)``.
    """
    ea = scenario.network.edge_attr
    marginal = _replace_network(scenario, k=ea["k"] * (1.0 + ea["p"]))
    x = RoutingAgents(marginal, **solver).solve(np.zeros(scenario.num_arcs)).x
    tolls = scenario.latency_slope(x) * x
    return tolls, RoutingAgents(scenario, **solver).solve(tolls)


def pigou_optimal_toll() -> float:
    """Pigou (``l1 = 1``, ``l2 = x``, demand 1), toll on link 2, any temperature: the social optimum splits
    the demand in half (``W'(x2) = 2 x2 - 1 + tau log(x2 / (1 - x2)) = 0``), so ``theta = x2 l2'(x2) = 1/2``."""
    return 0.5


def braess_optimal_toll(temperature: float) -> float:
    """Braess, toll on the bridge only, social cost: ``theta* = 1 - f`` where ``f`` (flow on each outer
    route; ``1 - 2f`` on the bridge route) solves ``2 f - 1 + tau log(f / (1 - 2 f)) = 0``.

    Derivation: with route flows ``(f, f, 1 - 2f)`` the social optimum's first-order condition equalises
    marginal route costs plus ``tau log f``: ``3 - 2f + tau log f = 4 - 4f + tau log(1 - 2f)``. The logit
    equilibrium with bridge toll ``theta`` has route costs ``2 - f`` and ``2 - 2f + theta`` and
    ``tau log(f / (1 - 2f)) = theta - f``; both hold iff ``theta = 1 - f``.
    """
    tau = float(temperature)
    f = brentq(lambda f: 2 * f - 1 + tau * np.log(f / (1 - 2 * f)), 1e-12, 0.5 - 1e-15, xtol=1e-15, rtol=1e-15)
    return 1.0 - f
