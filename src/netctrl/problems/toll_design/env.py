"""Toll design as an *instance -> solution* problem (:class:`~netctrl.controllers.InstanceProblem`).

Description
    The upper level tolls the tollable links of a network; a population of entropy-regularised routing agents
    (the lower level, :class:`~netctrl.problems.toll_design.lower.RoutingAgents`) responds with its equilibrium
    flow. One episode is one design decision: ``reset()`` returns the
    :class:`~netctrl.problems.toll_design.scenario.TollScenario`; the controller answers with the tolls
    ``theta`` of its ``P`` tollable arcs; ``step(theta)`` solves the equilibrium under them and scores it.

Action
    ``theta``: ``P`` non-negative finite tolls (latency units), in the order of ``scenario.toll_arcs``.
    A wrong length, a negative or a non-finite toll raises :class:`~netctrl.errors.ActionError`.

Reward
    The objective's improvement over no tolls, ``F(0) - F(theta)``, where ``F`` is the chosen objective of the
    equilibrium flow (default: the social cost, the agents' regularised cost without the tolls, which are
    transfers) plus ``lam |theta|^2``. ``info`` holds ``objective`` (``F(theta)``), ``objective_no_toll``,
    ``social_cost``, ``travel_time``, ``revenue`` (tolls times flows) and ``tolls``.

The scenario is the same for every seed (the design problem is deterministic).
"""

from __future__ import annotations

import numpy as np

from ...controllers import InstanceProblem
from ...errors import ActionError
from .lower import RoutingAgents
from .objectives import OBJECTIVES, SocialCost, TravelTime
from .scenario import TollScenario


def check_tolls(scenario: TollScenario, theta) -> np.ndarray:
    """``theta`` as a float array of the scenario's tollable arcs, or an :class:`ActionError` saying why not."""
    t = np.asarray(theta, dtype=float).reshape(-1)
    P = len(scenario.toll_arcs)
    if t.shape != (P,):
        raise ActionError(f"Expected 'theta' with one toll per tollable arc ({P} for {scenario.name}; got {t.size})")
    if not np.all(np.isfinite(t)):
        raise ActionError("Expected finite tolls in 'theta' (got NaN/inf)")
    if (t < 0).any():
        raise ActionError(f"Expected non-negative tolls in 'theta' (got {t.min():g})")
    return t


class TollProblem(InstanceProblem):
    """One toll-design instance with its equilibrium solver and objective (see the module docstring)."""

    def __init__(self, scenario: TollScenario, objective: str = "social_cost", lam: float = 0.0) -> None:
        super().__init__()
        self.scenario = scenario
        self.agents = RoutingAgents(scenario)
        self.objective = OBJECTIVES[objective](scenario, lam=lam)
        self._no_toll: float | None = None

    def instance(self, seed: int | None) -> TollScenario:
        return self.scenario

    def value(self, theta: np.ndarray) -> tuple[float, object]:
        """``(F(theta), equilibrium)``."""
        eq = self.agents.solve(self.scenario.arc_tolls(theta))
        return self.objective.of(eq, theta), eq

    def score(self, instance: TollScenario, theta) -> tuple[float, dict]:
        t = check_tolls(instance, theta)
        if self._no_toll is None:
            self._no_toll = self.value(np.zeros(len(instance.toll_arcs)))[0]
        f, eq = self.value(t)
        arc = instance.arc_tolls(t)
        info = {
            "objective": f,
            "objective_no_toll": self._no_toll,
            "social_cost": SocialCost(instance).of(eq, t),
            "travel_time": TravelTime(instance).of(eq, t),
            "revenue": float(arc @ eq.x),
            "tolls": t.tolist(),
        }
        return self._no_toll - f, info
