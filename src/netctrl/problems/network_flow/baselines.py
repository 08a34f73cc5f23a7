"""Network-flow baselines: the oracle MPC on the time-expanded network, greedy shortest paths, random.

* :class:`OracleMPC`: perfect foresight of the realised arrivals and capacity disruptions. Each step it
  solves one multi-commodity LP over the time-expanded network for the next ``horizon`` steps with the
  simulator's exact accounting (rewards on delivery, transport costs, holding costs on waiting units, shared
  arc capacities, in-transit units) and applies the first step's flows. Units still in the network at the end
  of a plan that stops before the episode's end get a terminal value (what delivering them later would earn,
  if they can still arrive in time). With ``horizon >= T`` its plan is the optimum of the episode (tested:
  the plan's value equals the realised return).
* :class:`ForecastMPC`: the same receding-horizon LP without foresight (expected arrivals, current
  capacities), re-solved every step; also the teacher of the bi-level agent's imitation pretraining.
* :class:`GreedyShortestPath`: every waiting unit moves to the next hop of its shortest path (by travel time)
  to its sink; an arc asked for more than its capacity is shared in proportion. Its ``deadline`` variant moves
  only the units that can still reach their sink by the episode's end (its next state is the bi-level agent's
  Dirichlet prior).
* ``random``: a flat-Dirichlet desired distribution per commodity, through the LP lower level.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ...controllers import Controller, SeededController
from ...lp import solve_lp
from .env import NetworkFlowEnv


def oracle_plan(
    env: NetworkFlowEnv, horizon: int, all_steps: bool = False, foresight: bool = True, terminal: bool = True
) -> tuple[np.ndarray, float]:
    """First-step flows (K*E,) (``all_steps``: the whole plan, (S, K*E)) and the plan's value over ``horizon``
    steps from the state of ``env.t``.

    ``foresight=True``: the realised future (arrivals and capacity disruptions of this episode);
    ``False``: only what a deployed controller knows, the expected arrivals (the scenario's rates) and the
    current capacities, assumed to persist.

    ``terminal``: a plan that stops before the episode's end values every unit still in the network at its
    end (waiting, or in transit) at ``reward - holding_cost * d`` if its remaining shortest travel time ``d``
    to its sink still lets it arrive before the episode ends, else 0. Without it, a unit farther than the
    horizon from its sink is worth nothing to the plan, which then leaves it waiting: on a 200-node graph
    (paths longer than a 15-step horizon) that MPC delivers 9 % less than greedy shortest paths. A plan that
    reaches the episode's end has no terminal value (the exact episode optimum is unchanged).
    """
    sc = env.scenario
    t0 = env.t
    S = min(horizon, env.T - t0)
    K, N, E = env.K, env.N, env.E
    tau = env.travel
    nx_, nh, nw = S * K * E, S * K * N, S * K * N
    X = lambda s, k, e: (s * K + k) * E + e
    Hh = lambda s, k, i: nx_ + (s * K + k) * N + i
    W = lambda s, k, i: nx_ + nh + ((s - 1) * K + k) * N + i
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = [0]

    def block(n_rows, lo_v, hi_v):
        base = r[0]
        r[0] += n_rows
        (
            lo.append(np.broadcast_to(lo_v, (n_rows,)).astype(float)),
            hi.append(np.broadcast_to(hi_v, (n_rows,)).astype(float)),
        )
        return base

    def add(rr, cc, v):
        cc = np.asarray(cc)
        rows.append(np.broadcast_to(rr, cc.shape).ravel()), cols.append(cc.ravel())
        vals.append(np.full(cc.size, float(v)))

    kk, ee = np.meshgrid(np.arange(K), np.arange(E), indexing="ij")  # (K, E)
    ki, ii = np.meshgrid(np.arange(K), np.arange(N), indexing="ij")  # (K, N)
    is_sink = np.zeros((K, N), dtype=bool)
    is_sink[np.arange(K), env.sinks] = True
    node_row = lambda base, k, i: base + k * N + i
    for s in range(S):
        # decision: outflow + hold = waiting (s = 0: the known state; later: the W variables)
        if s == 0:
            base = block(K * N, env.waiting.reshape(-1), env.waiting.reshape(-1))
        else:
            base = block(K * N, 0.0, 0.0)
            add(node_row(base, ki, ii), W(s, ki, ii), -1.0)
        add(node_row(base, kk, env.src[ee]), X(s, kk, ee), 1.0)
        add(node_row(base, ki, ii), Hh(s, ki, ii), 1.0)
        # capacity
        base = block(E, -np.inf, env.capacity(t0 + s if foresight else t0))
        add(base + ee, X(s, kk, ee), 1.0)
    known = env.pipeline[t0 + 1 : t0 + S + 1].copy()  # (S, K, N) already in transit
    new = np.zeros((S, K, N))
    rows_new = (env.arrivals if foresight else env.expected_arrivals)[t0 + 1 : t0 + S + 1]
    new[: rows_new.shape[0]] = rows_new
    for s in range(1, S + 1):
        # W(s) = hold(s-1) + arrivals of flows sent at s - tau + known + new   (sink of own commodity: 0)
        rhs = np.where(is_sink, 0.0, known[s - 1] + new[s - 1])
        base = block(K * N, rhs.reshape(-1), rhs.reshape(-1))
        add(node_row(base, ki, ii), W(s, ki, ii), 1.0)
        add(node_row(base, ki, ii)[~is_sink], Hh(s - 1, ki, ii)[~is_sink], -1.0)
        sent = s - tau  # departure step of arrivals at s
        ok = (sent >= 0)[None, :] & ~is_sink[kk, env.dst[ee]]
        if ok.any():
            add(node_row(base, kk, env.dst[ee])[ok], X(np.broadcast_to(sent, (K, E)), kk, ee)[ok], -1.0)
    n_cols = nx_ + nh + nw
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r[0], n_cols))
    # objective (maximise): reward on flows that reach their sink within the horizon - transport - holding
    reach = np.zeros((S, K, E))
    into_sink = env.dst[None, :] == env.sinks[:, None]  # (K, E)
    for s in range(S):
        reach[s] = into_sink & (s + tau <= S)[None, :]
    c_x = sc.reward * reach - env.cost[None, None, :]
    c_w = np.full((S, K, N), -sc.holding_cost)
    if terminal and t0 + S < env.T:
        dist = env.sink_dist  # (K, N) travel time to the sink
        left = env.T - (t0 + S)  # steps after the horizon

        def value(d):
            return np.where(d <= left, sc.reward - sc.holding_cost * d, 0.0)

        c_w[S - 1] += np.where(is_sink, 0.0, value(dist))  # waiting at the horizon's end
        for s in range(S):  # in transit at the horizon's end
            rest = (s + tau - S)[None, :] + dist[kk, env.dst[ee]]  # (K, E) steps after the horizon
            c_x[s] += np.where((s + tau > S)[None, :], value(rest), 0.0)
    c = np.concatenate([c_x.reshape(-1), np.zeros(nh), c_w.reshape(-1)])
    # interior point (with crossover to a vertex): 13x faster than dual simplex on the 100-node episode LP
    sol = solve_lp(
        c,
        A,
        np.concatenate(lo),
        np.concatenate(hi),
        0.0,
        None,
        maximize=True,
        method="ipm",
        name="network-flow oracle MPC",
    )
    committed = sc.reward * float(known[:, np.arange(K), env.sinks].sum())
    flows = np.maximum(sol.x[:nx_].reshape(S, K * E), 0.0)
    return (flows if all_steps else flows[0]), float(sol.objective + committed)


class OracleMPC(Controller):
    """Perfect-foresight receding-horizon MPC on the time-expanded network (see the module docstring).

    Args:
        horizon: steps of each plan.
        replan_every: steps between solves (the plan's next flows are applied in between). With perfect
            foresight the model is exact, so ``horizon >= T`` and ``replan_every >= T`` (one LP per episode)
            give the episode's optimum, as re-solving every step would, at a fraction of the cost.
    """

    lower = None
    name = "oracle"

    def __init__(self, horizon: int = 15, replan_every: int = 1) -> None:
        self.horizon = int(horizon)
        self.replan_every = max(int(replan_every), 1)
        self.env: NetworkFlowEnv | None = None
        self._plan, self._t0 = None, -1

    def bind(self, env) -> None:
        self.env = env.unwrapped
        self._plan, self._t0 = None, -1

    def act(self, observation) -> np.ndarray:
        t = self.env.t
        k = t - self._t0
        if self._plan is None or k < 0 or k >= min(self.replan_every, len(self._plan)):
            self._plan, _ = oracle_plan(self.env, self.horizon, all_steps=True)
            self._t0, k = t, 0
        return self._plan[k].astype(np.float32)


class ForecastMPC(OracleMPC):
    """Receding-horizon MPC without foresight: :func:`oracle_plan` with ``foresight=False`` (expected arrivals,
    current capacities), re-solved every step. What a deployment could run, at an LP per step."""

    name = "mpc-forecast"

    def __init__(self, horizon: int = 15) -> None:
        super().__init__(horizon, 1)

    def act(self, observation) -> np.ndarray:
        return oracle_plan(self.env, self.horizon, foresight=False)[0].astype(np.float32)


class ForecastMPCExpert:
    """The teacher of imitation pretraining (:mod:`netctrl.algos.imitation`): the next state
    :class:`ForecastMPC` would reach from the environment's current state (no foresight, so its decisions are
    a function of what the policy observes)."""

    def __init__(self, horizon: int = 15) -> None:
        self.horizon = int(horizon)

    def target(self, env: NetworkFlowEnv) -> np.ndarray:
        flows, _ = oracle_plan(env, self.horizon, foresight=False)
        return env.next_state(flows).reshape(-1)


class GreedyShortestPath(Controller):
    """Send every waiting unit to the next hop of its shortest path (see the module docstring).

    ``deadline=True`` (``shortest-path-deadline``): only the units that can still reach their sink by the
    episode's end move; the others stay where they are and leave the arcs' capacity to those that can.
    """

    lower = None

    def __init__(self, deadline: bool = False) -> None:
        self.deadline = bool(deadline)
        self.name = "shortest-path-deadline" if deadline else "shortest-path"

    def bind(self, env) -> None:
        self.env = env.unwrapped

    def act(self, observation) -> np.ndarray:
        return self.env.greedy_flows(deadline=self.deadline).reshape(-1).astype(np.float32)


class RandomDistribution(SeededController):
    """A flat-Dirichlet desired distribution per commodity, through the LP."""

    lower = "lp"
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)

    def bind(self, env) -> None:
        self._k, self._n = env.unwrapped.K, env.unwrapped.N

    def act(self, observation) -> np.ndarray:
        return self.rng.dirichlet(np.ones(self._n), size=self._k).reshape(-1).astype(np.float32)


def baselines(seed: int = 0) -> dict[str, Controller]:
    return {
        "oracle": OracleMPC(),
        "shortest-path": GreedyShortestPath(),
        "shortest-path-deadline": GreedyShortestPath(deadline=True),
        "random": RandomDistribution(seed),
    }
