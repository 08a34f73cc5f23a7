"""Lower level of the mobility problem: rebalancing flows that best reach a desired vehicle distribution.

Given idle vehicles ``v`` and a desired distribution ``a`` (on the simplex), the desired counts are
``v_hat = floor(a * sum(v))``, as in the reference. Flooring leaves a dead-band of less than one vehicle per
region: a policy whose desired share is a fraction of a vehicle off does not trigger a move (rounding to the
nearest whole vehicle instead made trained agents move single vehicles back and forth, 0.5-1 % of reward).
The LP, built once per city and hot-started every step, is the reference study's ``lcp.mod``::

    minimize   sum_e beta * tau_e * y_e  +  M * sum_i s_i
    s.t.       sum_{e into i} y_e - sum_{e out of i} y_e + s_i >= v_hat_i - v_i     for every region i
               sum_{e out of i} y_e                               <= v_i              for every region i
               y, s >= 0                    (y_e = 0 on a closed link)

``s`` is the shortfall of region ``i`` (the reference's free slack; only its negative part is ever used) and
``M`` exceeds any edge cost, so the LP always reaches the closest reachable distribution first and then
spends the least on it. Costs carry a tiny fixed perturbation (``tie_break``, at most ``1e-4`` per vehicle)
so that the optimum is unique: otherwise ties between equally cheap flows are broken by whatever basis the
previous (hot-started) solve left, and two runs with the same seed could diverge. It is always feasible
(``y = 0, s = max(v_hat - v, 0)``). The constraint matrix is a node-arc incidence matrix plus identities, so
vertex optima are integral for integral data; the flows are rounded to clean up solver noise.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from gymnasium import spaces

from ...errors import ActionError, require_finite
from ...graph import FlowNetwork
from ...lp import INF, LinearProgram


def desired_counts(weights: np.ndarray, total: float) -> np.ndarray:
    """Desired whole vehicles per region: ``floor(w * floor(total))`` for the normalised ``weights``."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ActionError(f"Expected a 1-D desired distribution (got shape {w.shape})")
    if not np.all(np.isfinite(w)):
        raise ActionError("Expected a finite desired distribution (got NaN/inf; is the policy diverging?)")
    if (w < 0).any():
        raise ActionError(f"Expected a non-negative desired distribution (got min {w.min():.4g})")
    s = w.sum()
    w = np.full_like(w, 1.0 / w.size) if s <= 0 else w / s
    return np.floor(w * np.floor(total + 1e-9) + 1e-9)


class RebalancingLP:
    """Hot-started rebalancing LP for one city (see the module docstring).

    Args:
        network: regions and rebalancing edges.
        reb_time: rebalancing time of each edge (steps); the state of each step may bring new times.
        beta: cost of one vehicle for one step of driving.
        shortfall_penalty: ``M``; default ``1000 * (1 + max edge cost)``.
        tie_break: size of the fixed cost perturbation that makes the optimum unique (0 disables it).
        closed: (E,) bool, links no vehicle may take (their flows are bounded by 0).
    """

    def __init__(
        self,
        network: FlowNetwork,
        reb_time: np.ndarray,
        beta: float,
        *,
        shortfall_penalty: float | None = None,
        tie_break: float = 1e-4,
        verify_every: int = 0,
        closed: np.ndarray | None = None,
    ) -> None:
        self.network = network
        self.beta = float(beta)
        self.action_space = spaces.Box(0.0, 1.0, (network.num_nodes,), np.float32)
        edge_cost = self.beta * np.asarray(reb_time, dtype=np.float64)
        N, E = network.num_nodes, network.num_edges
        self.N, self.E = N, E
        self.M = float(shortfall_penalty) if shortfall_penalty else 1000.0 * (1.0 + float(edge_cost.max(initial=0.0)))
        B = network.incidence()
        out = sp.csr_matrix((np.ones(E), (network.sources, np.arange(E))), shape=(N, E))
        A = sp.vstack([sp.hstack([B, sp.identity(N)]), sp.hstack([out, sp.csr_matrix((N, N))])])
        jitter = np.random.default_rng(20230509).random(E + N)
        self._edge_jitter = tie_break * jitter[:E]
        cost = np.concatenate([edge_cost + self._edge_jitter, self.M * (1.0 + tie_break * 1e-3 * jitter[E:])])
        self._edge_cost = edge_cost.copy()
        self.lp = LinearProgram(
            cost,
            A,
            row_lower=np.zeros(2 * N),
            row_upper=np.concatenate([np.full(N, INF), np.zeros(N)]),
            col_upper=None if closed is None else np.where(np.concatenate([closed, np.zeros(N, bool)]), 0.0, INF),
            name="mobility rebalancing LP",
            verify_every=verify_every,
        )
        self._upper = np.concatenate([np.full(N, INF), np.zeros(N)])
        self._lower = np.concatenate([np.zeros(N), np.full(N, -INF)])
        self._edge_cost0 = edge_cost.copy()

    def reset(self) -> None:
        """Back to the state as built (see :meth:`netctrl.lp.LinearProgram.reset`): a new episode's flows do not
        depend on earlier episodes."""
        self._edge_cost = self._edge_cost0.copy()
        self._upper[self.N :] = 0.0
        self._lower[: self.N] = 0.0
        self.lp.reset()

    def set_edge_cost(self, edge_cost: np.ndarray) -> None:
        edge_cost = np.asarray(edge_cost, dtype=np.float64)
        if not np.array_equal(edge_cost, self._edge_cost):
            self.lp.set_cost(edge_cost + self._edge_jitter, np.arange(self.E))
            self._edge_cost = edge_cost.copy()

    def solve_counts(self, idle: np.ndarray, target: np.ndarray, *, cold: bool = False) -> np.ndarray:
        """Flows (E,) moving ``idle`` vehicles towards the integer ``target`` counts."""
        idle = np.asarray(idle, dtype=np.float64)
        self._lower[: self.N] = target - idle
        self._upper[self.N :] = idle
        self.lp.set_row_bounds(self._lower, self._upper)
        x = self.lp.solve(cold=cold).x[: self.E]
        flows = np.maximum(np.rint(x) if np.allclose(idle, np.rint(idle)) else x, 0.0)
        return flows

    def solve(self, state, desired: np.ndarray, *, cold: bool = False) -> np.ndarray:
        """Rebalancing flows for a :class:`~netctrl.problems.mobility.env.MobilityState` and a desired distribution."""
        require_finite("desired distribution", desired)
        self.set_edge_cost(self.beta * np.asarray(state.reb_time, dtype=np.float64))
        target = desired_counts(desired, float(np.sum(state.idle)))
        return self.solve_counts(state.idle, target, cold=cold)

    @classmethod
    def for_env(cls, env, **kwargs) -> RebalancingLP:
        """The lower level of a :class:`MobilityEnv` (costs ``beta * reb_time``)."""
        env = env.unwrapped
        return cls(env.scenario.network, env.scenario.reb_time[0], env.beta, closed=env.scenario.closed, **kwargs)

    def __repr__(self) -> str:
        return f"RebalancingLP(regions={self.N}, edges={self.E}, M={self.M:g})"


class EdgeShareMap:
    """The naive edge-level action map: per-edge reals ``z`` -> flows ``idle_src(e) * sigmoid(z_e + offset)``.

    No optimisation: the policy sets every edge's flow itself (a share of its source's idle vehicles); when a
    region's shares add up to more than its idle vehicles the environment scales them down. ``offset = -3``
    makes an untrained policy (``z ~ 0``) send about 5 % of the idle vehicles along each edge instead of half.
    """

    def __init__(self, network: FlowNetwork, offset: float = -3.0) -> None:
        self.network = network
        self.offset = float(offset)
        self.action_space = spaces.Box(-np.inf, np.inf, (network.num_edges,), np.float32)

    def solve(self, state, action: np.ndarray) -> np.ndarray:
        z = np.asarray(action, dtype=np.float64)
        if z.shape != (self.network.num_edges,):
            raise ActionError(f"Expected per-edge actions of shape ({self.network.num_edges},) (got {z.shape})")
        require_finite("per-edge actions", z)
        share = 1.0 / (1.0 + np.exp(-np.clip(z + self.offset, -30.0, 30.0)))
        return np.asarray(state.idle, dtype=np.float64)[self.network.sources] * share

    @classmethod
    def for_env(cls, env, **kwargs) -> EdgeShareMap:
        return cls(env.unwrapped.scenario.network, **kwargs)
