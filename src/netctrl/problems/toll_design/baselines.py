"""Reference tolls: none, the marginal-cost (Pigouvian) toll, and the closed forms of Pigou's and Braess's networks."""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ...controllers import Controller
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


# ------------------------------------------------------------------------------------------------ controllers
class NoToll(Controller):
    """No tolls (the design the reward is measured against)."""

    name = "no-toll"

    def act(self, scenario: TollScenario) -> np.ndarray:
        return np.zeros(len(scenario.toll_arcs))


class MarginalCostToll(Controller):
    """The marginal-cost toll :func:`marginal_cost_toll` on the tollable arcs (the optimum of the social cost
    when every arc is tollable and tolls cost nothing; a heuristic otherwise)."""

    name = "marginal-cost"

    def act(self, scenario: TollScenario) -> np.ndarray:
        tolls, _ = marginal_cost_toll(scenario)
        return tolls[scenario.toll_arcs]


class FixedTolls(Controller):
    """Given tolls (e.g. a closed-form optimum or a design found by the hyper-gradient loop)."""

    def __init__(self, theta, name: str = "tolls") -> None:
        self.theta = np.asarray(theta, dtype=float).reshape(-1)
        self.name = name

    def act(self, scenario: TollScenario) -> np.ndarray:
        if len(scenario.toll_arcs) != len(self.theta):
            from ...errors import ActionError

            raise ActionError(
                f"{self.name!r} holds {len(self.theta)} tolls, but {scenario.name} has "
                f"{len(scenario.toll_arcs)} tollable arcs: it was designed for another network"
            )
        return self.theta.copy()


def baselines_for(closed_form: float | None = None):
    """``baselines(seed)``: no toll, the marginal-cost toll and, where known, the closed-form optimal toll."""

    def baselines(seed: int = 0) -> dict:
        out = {"no-toll": NoToll(), "marginal-cost": MarginalCostToll()}
        if closed_form is not None:
            out["closed-form"] = FixedTolls([closed_form], name="closed-form")
        return out

    return baselines
