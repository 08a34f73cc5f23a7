"""Lower levels of the network-flow problem.

:class:`MultiCommodityLP` (bi-level): for every commodity ``k`` the upper level proposes a distribution
``w_k`` of its waiting units over the nodes; the desired amounts are ``w_k * total_k`` (units are divisible:
shared capacities make flows fractional anyway, and rounding down would leave units free to stall). One LP
over all commodities, built once per graph and hot-started every step, finds the one-hop flows that reach
them, sharing the arcs' capacities::

    minimise   sum_{k,e} (cost_e - beta * closer_ke + tie) x_ke + M * sum_{k,i} s_ki
    s.t.       inflow_ki(x) - outflow_ki(x) + s_ki >= target_ki - waiting_ki      every commodity, node
               outflow_ki(x)                         <= waiting_ki                 every commodity, node
               sum_k x_ke                            <= capacity_e(t)              every arc
               x, s >= 0
               x_ke = 0 where t + travel_e + dist_k(head_e) > T                    (``late_arcs``)

``closer_ke`` is how much nearer to commodity ``k``'s sink arc ``e`` leads (travel time) and ``beta`` a
progress bonus (default ``reward / 10``, far below ``M``), counted only for units that can still reach their
sink by the episode's end (:func:`~.scenario.arrives_in_time` at the arc's source): progress toward a reward
that can no longer be earned is worth nothing, and such units would take capacity from those that can.
Without the bonus, a unit held at a node by a full arc would count toward that node's target in place of the
units meant to arrive there, and the LP would stop moving them: a desired *amount* at a node cannot tell
staying units from arriving ones. With it, units the targets leave free keep moving toward their sinks, and
the targets decide what must be held or diverted.

With ``late_arcs`` (the default), no unit may take an arc after which it can no longer reach its sink by the
episode's end ``T`` (its travel time plus the shortest travel time from the arc's head, ``dist_k``): such a move
can never earn the reward and only pays transport and takes capacity, so the lower level rules it out whatever
the targets ask. An upper level trained on small graphs, where paths are short and every detour still arrives,
otherwise learns detours that a 500-node graph, with paths as long as the episode, turns into lost deliveries
(development run on validation seeds 2000-2002, the bi-level agent of 2026-11-25 without retraining, return over
the deadline greedy's on the 500-node Gabriel instance 1, not a benchmark graph: 0.956 without, 0.971 with;
20/100/200 nodes within 0.002). Units that cannot arrive in any case stay where they are.

``M`` is by default far above every other cost: the targets are met wherever the arcs allow. With
``soft_targets = kappa``, ``M = kappa * beta``: a unit of shortfall costs as much as ``kappa`` steps of travel
time toward the sink. The LP then holds a unit to meet a target only where that costs less progress. This
matters because a target error propagates: a desired amount above what a node receives is met by holding the
node's own units, so the next node receives fewer than its target counted on and holds its own in turn, and so
on down the path to a node whose target is below what greedy would bring it. With hard targets, small random
errors of the upper level become holding along whole paths, and paths grow with the graph. With soft targets a
hold that gains the node's target costs one hop and is kept (``kappa`` > 1), while a cascade over several hops
is not. With ``kappa`` < 1 no unit that can still arrive is held for a target while an arc toward its sink has
room: the targets then only divert units (the network-flow problem's setting, ``LP_SOFT_TARGETS``).

It is always feasible (``x = 0``) and never ships what is not there or above capacity.

:class:`EdgeShareMap` (the naive edge-level agent): every arc's flow of every commodity straight from the
policy, as a share of the commodity's waiting units at the arc's source.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from gymnasium import spaces

from ...errors import ActionError, ConfigError
from ...lp import INF, LinearProgram, tie_break
from .scenario import NetworkFlowScenario, arrives_in_time


class MultiCommodityLP:
    """Hot-started multi-commodity flow LP toward the desired distributions (see the module docstring)."""

    def __init__(self, scenario: NetworkFlowScenario, shortfall_penalty: float | None = None,
                 progress_bonus: float | None = None, soft_targets: float | None = None,
                 late_arcs: bool = True) -> None:
        if soft_targets is not None and not soft_targets > 0:
            raise ConfigError(f"Expected 'soft_targets' > 0 or None (got {soft_targets})")
        if soft_targets is not None and shortfall_penalty is not None:
            raise ConfigError("Give 'shortfall_penalty' or 'soft_targets', not both")
        net = scenario.network
        N, E, K = net.num_nodes, net.num_edges, scenario.num_commodities
        self.N, self.E, self.K = N, E, K
        self.action_space = spaces.Box(0.0, 1.0, (K * N,), np.float32)
        closer = scenario.arc_progress()                                  # (K, E)
        self.progress_bonus = float(scenario.reward / 10.0 if progress_bonus is None else progress_bonus)
        self._arc_cost = (net.edge_attr["cost"] + tie_break(E, 1e-4))[None, :]                       # (1, E)
        self._bonus = self.progress_bonus * closer                                                    # (K, E)
        self._src, self._steps = net.sources, scenario.steps
        self._sink_dist = scenario.sink_distance().T                                                  # (K, N)
        cost = self._arc_cost - self._bonus
        self._gate = np.ones((K, N), dtype=bool)                          # where the bonus is in ``cost`` now
        self._via = scenario.arc_sink_distance()                          # (K, E) to the sink through each arc
        self._late_arcs = bool(late_arcs)
        self._open = np.ones((K, E), dtype=bool)                          # arcs whose flows are not bound to 0
        if soft_targets is not None:
            self.M = float(soft_targets) * self.progress_bonus
        else:
            self.M = float(shortfall_penalty or 1000.0 * (1.0 + np.abs(cost).max()))
        B = net.incidence().tocsr()
        out = sp.csr_matrix((np.ones(E), (net.sources, np.arange(E))), shape=(N, E))
        IK = sp.identity(K, format="csr")
        bal = sp.hstack([sp.kron(IK, B), sp.identity(K * N)])
        avail = sp.hstack([sp.kron(IK, out), sp.csr_matrix((K * N, K * N))])
        capr = sp.hstack([sp.kron(np.ones((1, K)), sp.identity(E)), sp.csr_matrix((E, K * N))])
        A = sp.vstack([bal, avail, capr]).tocsc()
        c = np.concatenate([cost.reshape(-1), np.full(K * N, self.M) + np.tile(tie_break(N, 1e-3, seed=3), K)])
        self._lo = np.concatenate([np.zeros(K * N), np.full(K * N, -INF), np.full(E, -INF)])
        self._hi = np.concatenate([np.full(K * N, INF), np.zeros(K * N), np.zeros(E)])
        self.lp = LinearProgram(c, A, self._lo, self._hi, name="multi-commodity flow LP")

    def targets(self, state, action) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self.K * self.N,):
            raise ActionError(f"Expected desired distributions of shape ({self.K * self.N},) (got {a.shape})")
        if not np.all(np.isfinite(a)):
            raise ActionError("Expected finite desired distributions (got NaN/inf; is the policy diverging?)")
        w = np.maximum(a.reshape(self.K, self.N), 0.0)
        s = w.sum(axis=1, keepdims=True)
        w = np.where(s > 0, w / np.where(s > 0, s, 1.0), 1.0 / self.N)
        return w * state.waiting.sum(axis=1, keepdims=True)

    def solve(self, state, action) -> np.ndarray:
        """Flows (K*E,) for a :class:`FlowState` and the node-level action (K*N,)."""
        target = self.targets(state, action)
        KN = self.K * self.N
        gate = arrives_in_time(self._sink_dist, state.t, self._steps)
        if not np.array_equal(gate, self._gate):
            self._gate = gate
            self.lp.set_cost((self._arc_cost - self._bonus * gate[:, self._src]).reshape(-1),
                             np.arange(self.K * self.E))
        if self._late_arcs:
            open_ = arrives_in_time(self._via, state.t, self._steps)
            if not np.array_equal(open_, self._open):
                self._open = open_
                self.lp.set_col_bounds(0.0, np.where(open_, INF, 0.0).reshape(-1), np.arange(self.K * self.E))
        self._lo[:KN] = (target - state.waiting).reshape(-1)
        self._hi[KN : 2 * KN] = state.waiting.reshape(-1)
        self._hi[2 * KN :] = state.capacity
        self.lp.set_row_bounds(self._lo, self._hi)
        x = self.lp.solve().x[: self.K * self.E]
        return np.maximum(x, 0.0)

    @classmethod
    def for_env(cls, env, **kwargs) -> "MultiCommodityLP":
        return cls(env.unwrapped.scenario, **kwargs)


class EdgeShareMap:
    """Naive edge-level map: per (commodity, arc) reals ``z`` -> ``waiting_k[source] * sigmoid(z + offset)``."""

    def __init__(self, scenario: NetworkFlowScenario, offset: float = -1.0) -> None:
        net = scenario.network
        self.src = net.sources
        self.K, self.E = scenario.num_commodities, net.num_edges
        self.offset = float(offset)
        self.action_space = spaces.Box(-np.inf, np.inf, (self.K * self.E,), np.float32)

    def solve(self, state, action) -> np.ndarray:
        z = np.asarray(action, dtype=np.float64)
        if z.shape != (self.K * self.E,) or not np.all(np.isfinite(z)):
            raise ActionError(f"Expected finite per-arc actions of shape ({self.K * self.E},) (got {z.shape})")
        share = 1.0 / (1.0 + np.exp(-np.clip(z.reshape(self.K, self.E) + self.offset, -30, 30)))
        return (state.waiting[:, self.src] * share).reshape(-1)

    @classmethod
    def for_env(cls, env, **kwargs) -> "EdgeShareMap":
        return cls(env.unwrapped.scenario, **kwargs)
