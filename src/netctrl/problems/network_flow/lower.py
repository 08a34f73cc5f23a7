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

**Same input, same solution.** The LP has many equally cheap flows (commodities with the same progress on a
shared, full arc; equivalent holds), and a hot start returns whichever the previous basis leads to: the same
state and action gave different flows after different histories (an evaluation seed's reward depended on the
seeds before it). Every column, each (commodity, arc) and each (commodity, node) shortfall, therefore carries
its own fixed pseudo-random cost ``delta_j`` in ``(s/2, s]`` (:func:`~netctrl.lp.tie_break`; random, not evenly
spaced, so that no two sums of them tie), which makes the optimum unique almost surely. It only breaks ties:
a basis optimal for the perturbed costs stays optimal for the plain ones as long as no nonzero plain reduced
cost ``d_j`` is smaller than the perturbation's share ``|delta_j - delta_B B^-1 A_j| <= s (1 + |B^-1 A_j|_1)``.
The plain costs lie on a grid of step ``g`` (:func:`_cost_grain`: the least positive cost or cost difference
among arc costs, ``beta`` and ``M``; 0.05 for the packaged graphs: arc costs 0.05-0.15, ``beta`` 1, ``M``
0.75), so a nonzero reduced cost of a path or cycle of columns is at least ``g``, and with
``s = TIE_BREAK * g = 1e-4 g`` the perturbation of any path or cycle of fewer than 10,000 columns stays below
it (tested: the perturbed flows' plain cost equals the plain optimum). The LP is solved to feasibility
tolerances of ``1e-10`` (``LP_TOLERANCE``: HiGHS's default ``1e-7`` let two vertices ``1e-8`` apart both pass),
and a hot-started optimum with a movable nonbasic variable of reduced cost below ``UNIQUE_MARGIN`` (a near-tie
left within solver tolerance; not seen on the packaged graphs) is solved again from a cold start, so that the
answer is a function of the input alone (:class:`~netctrl.lp.LinearProgram`).

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

#: largest cost perturbation per unit of any column, as a fraction of the cost grain (see the module docstring)
TIE_BREAK = 1e-4
#: HiGHS feasibility tolerances of the LP, and the reduced-cost margin below which a hot-started optimum counts as
#: not clearly unique and is solved again from a cold start (:class:`~netctrl.lp.LinearProgram`)
LP_TOLERANCE = 1e-10
UNIQUE_MARGIN = 5e-10


def _cost_grain(costs: np.ndarray) -> float:
    """The cost grain ``g``: the least positive value among the costs' magnitudes and their differences (costs
    on a grid, as the packaged ones: arc costs 0.05-0.15, bonus 1, ``M`` 0.75, give the grid step 0.05)."""
    c = np.unique(np.round(np.abs(np.asarray(costs, dtype=np.float64)), 12))
    cands = np.concatenate([c, np.diff(c)])
    cands = cands[cands > 0]
    return float(cands.min()) if cands.size else 1.0


class MultiCommodityLP:
    """Hot-started multi-commodity flow LP toward the desired distributions (see the module docstring)."""

    def __init__(
        self,
        scenario: NetworkFlowScenario,
        shortfall_penalty: float | None = None,
        progress_bonus: float | None = None,
        soft_targets: float | None = None,
        late_arcs: bool = True,
    ) -> None:
        if soft_targets is not None and not soft_targets > 0:
            raise ConfigError(f"Expected 'soft_targets' > 0 or None (got {soft_targets})")
        if soft_targets is not None and shortfall_penalty is not None:
            raise ConfigError("Give 'shortfall_penalty' or 'soft_targets', not both")
        net = scenario.network
        N, E, K = net.num_nodes, net.num_edges, scenario.num_commodities
        self.N, self.E, self.K = N, E, K
        self.action_space = spaces.Box(0.0, 1.0, (K * N,), np.float32)
        closer = scenario.arc_progress()  # (K, E)
        self.progress_bonus = float(scenario.reward / 10.0 if progress_bonus is None else progress_bonus)
        arc_cost = np.asarray(net.edge_attr["cost"], dtype=np.float64)
        self._bonus = self.progress_bonus * closer  # (K, E)
        self._src, self._steps = net.sources, scenario.steps
        self._sink_dist = scenario.sink_distance().T  # (K, N)
        cost = arc_cost[None, :] - self._bonus
        self._gate = np.ones((K, N), dtype=bool)  # where the bonus is in ``cost`` now
        self._via = scenario.arc_sink_distance()  # (K, E) to the sink through each arc
        self._late_arcs = bool(late_arcs)
        self._open = np.ones((K, E), dtype=bool)  # arcs whose flows are not bound to 0
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
        # a fixed perturbation of every column, (commodity, arc) and (commodity, node) alike, makes the optimum
        # unique (see the module docstring); it stays in the arc costs when the progress bonus is switched off
        self.tie_break = TIE_BREAK * _cost_grain(np.concatenate([arc_cost, [self.progress_bonus, self.M]]))
        jitter = tie_break(K * E + K * N, self.tie_break, seed=3)
        self._arc_cost = arc_cost[None, :] + jitter[: K * E].reshape(K, E)  # (K, E)
        cost = self._arc_cost - self._bonus
        c = np.concatenate([cost.reshape(-1), self.M + jitter[K * E :]])
        self._lo = np.concatenate([np.zeros(K * N), np.full(K * N, -INF), np.full(E, -INF)])
        self._hi = np.concatenate([np.full(K * N, INF), np.zeros(K * N), np.zeros(E)])
        self.lp = LinearProgram(
            c,
            A,
            self._lo,
            self._hi,
            name="multi-commodity flow LP",
            tolerance=LP_TOLERANCE,
            unique_margin=UNIQUE_MARGIN,
        )
        self._bounds0 = (self._lo.copy(), self._hi.copy())

    def reset(self) -> None:
        """Back to the state as built (see :meth:`netctrl.lp.LinearProgram.reset`): a new episode's flows do not
        depend on earlier episodes."""
        self._gate = np.ones_like(self._gate)
        self._open = np.ones_like(self._open)
        self._lo[:], self._hi[:] = self._bounds0
        self.lp.reset()

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
            self.lp.set_cost(
                (self._arc_cost - self._bonus * gate[:, self._src]).reshape(-1), np.arange(self.K * self.E)
            )
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
    def for_env(cls, env, **kwargs) -> MultiCommodityLP:
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
    def for_env(cls, env, **kwargs) -> EdgeShareMap:
        return cls(env.unwrapped.scenario, **kwargs)
