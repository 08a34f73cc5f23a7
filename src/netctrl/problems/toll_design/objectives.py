r"""Upper-level objectives of toll design: a system measure of the equilibrium flow plus ``lam |theta|^2``.

Each objective gives its value from ``(x, xd, logpi, tolls)`` (NumPy or torch, so the unrolled baseline
differentiates the same formula) and, for the hyper-gradient, the vector ``g`` with
``dF/dtheta = (dx*/dtheta)^T g + 2 lam theta``:

* :class:`SocialCost` (default): the agents' own regularized cost without the tolls (tolls are transfers),
  ``W = sum_e x_e l_e(x_e) - tau H`` with ``H = -sum_{d,e} x_de log pi_d(e)`` the route entropy. At the
  equilibrium ``W = S(c) - theta . x`` (``S`` the agents' total soft value, ``dS/dc = x``), hence
  ``dW/dtheta = (dx*/dtheta)^T (x * l'(x) - theta)``: the marginal-cost toll ``theta = x l'(x)`` is
  stationary, which gives the closed-form optima of Pigou's and Braess's networks.
* :class:`TravelTime`: ``sum_e x_e l_e(x_e)``, ``g = l(x) + x l'(x)``.
* :class:`TargetFlow`: ``1/2 |x - x_target|^2``, ``g = x - x_target``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenario import TollScenario


@dataclass
class Objective:
    scenario: TollScenario
    lam: float = 0.0
    """weight of the toll cost ``lam |theta|^2``."""

    def measure(self, x, xd, logpi, tolls):
        raise NotImplementedError

    def flow_gradient(self, x: np.ndarray, tolls: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value(self, x, xd, logpi, tolls, theta) -> float:
        """System measure + toll cost (NumPy floats or a torch scalar)."""
        return self.measure(x, xd, logpi, tolls) + self.lam * (theta * theta).sum()

    def of(self, eq, theta: np.ndarray) -> float:
        """The objective at a lower-level solution ``eq`` for tolls ``theta`` (P,)."""
        return float(self.value(eq.x, eq.xd, eq.logpi, self.scenario.arc_tolls(theta), np.asarray(theta)))

    def theta_gradient(self, theta: np.ndarray) -> np.ndarray:
        return 2.0 * self.lam * np.asarray(theta, dtype=float)


class SocialCost(Objective):
    """Travel time minus ``tau`` times the route entropy (tolls excluded)."""

    def measure(self, x, xd, logpi, tolls):
        return (x * self.scenario.latency(x)).sum() + self.scenario.temperature * (xd * logpi).sum()

    def flow_gradient(self, x, tolls):
        return x * self.scenario.latency_slope(x) - tolls


class TravelTime(Objective):
    """Total travel time ``sum_e x_e l_e(x_e)``."""

    def measure(self, x, xd, logpi, tolls):
        return (x * self.scenario.latency(x)).sum()

    def flow_gradient(self, x, tolls):
        return self.scenario.latency(x) + x * self.scenario.latency_slope(x)


@dataclass
class TargetFlow(Objective):
    """Half the squared distance to a target flow pattern."""

    target: np.ndarray | None = None

    def measure(self, x, xd, logpi, tolls):
        d = x - (self.target if isinstance(x, np.ndarray) else _as_torch(self.target, x))
        return 0.5 * (d * d).sum()

    def flow_gradient(self, x, tolls):
        return x - self.target


def _as_torch(a, like):
    import torch

    return torch.as_tensor(a, dtype=like.dtype)


OBJECTIVES = {"social_cost": SocialCost, "travel_time": TravelTime, "target_flow": TargetFlow}
