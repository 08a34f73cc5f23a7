"""Baselines for mobility-on-demand: the oracle MPC, the reference heuristics, random.

* :class:`OracleMPC`: perfect foresight. At every step it solves one LP over the time-expanded network for the
  next ``horizon`` steps with the *realised* requests, plans matching and rebalancing jointly, applies the
  first step of both and re-plans the next step (receding horizon). It installs itself as the environment's
  matcher, so the served requests are its own. The LP models the simulator exactly (same timing, costs and
  in-transit vehicles), so with ``horizon >= T`` it is the optimum of the episode and an upper bound for every
  controller on the same seed (up to the reference's per-step clipping of negative matching profits).
* :class:`ForecastMPC`: the same LP and receding horizon, fed the expected requests (the scenario's rates)
  of the coming steps instead of the realised ones: the controller an operator can actually run.
* :class:`RebalancingMPC`: the environment matches, the LP rebalances (``oracle-rebalancing`` with foresight:
  the reference of what rebalancing alone reaches; not in :func:`baselines`, the scale benchmark uses it).
* ``uniform`` (reference ``heur``): desired distribution ``1/N`` everywhere, through the rebalancing LP.
* ``no-rebalancing``: never moves an empty vehicle.
* ``random`` (reference ``random``): a flat-Dirichlet desired distribution each step, through the LP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...controllers import ConstantDesiredController, Controller, RandomDesiredController, ZeroActionController
from ...lp import solve_lp
from .env import MobilityEnv


@dataclass
class OraclePlan:
    """The first step of an oracle plan and the plan's value (profit over the horizon)."""

    served: np.ndarray
    """(P,) requests served at the current step."""
    flows: np.ndarray
    """(E,) rebalancing flows at the current step."""
    value: float
    """optimal objective of the horizon LP."""


def oracle_plan(env: MobilityEnv, horizon: int, *, foresight: bool = True, matched: bool = False) -> OraclePlan:
    """Solve the receding-horizon LP from the state of step ``env.t``.

    ``foresight``: plan with the realised requests of the coming steps (the oracle); ``False`` plans with their
    expected counts (the scenario's Poisson rates), knowing only the requests of the current step, which have
    arrived. ``matched``: the current step's matching is already done (``env.idle`` is after it; the plan
    rebalances only, and serves from the next step on), the state a rebalancing policy acts in.
    """
    sc = env.scenario
    t0 = env.t
    S = min(horizon, env.T - t0)
    N, E, P = env.N, env.E, len(sc.pairs)
    demand = (env.demand if foresight else sc.rate)[t0 : t0 + S].astype(np.float64)  # (S, P), a copy
    if not foresight:
        demand[0] = env.demand[t0]  # the current step's requests have arrived
    if matched:
        demand[0] = 0.0  # served already
    act_s, act_p = np.nonzero(demand > 0)  # matching columns: only pairs with requests
    nm, ny, nh = act_s.size, S * E, S * N
    # column layout: [m (nm) | y (S*E) | h (S*N)]; h[s, i] = idle vehicles carried from step s to s+1
    y_s, y_e = np.divmod(np.arange(ny), E)
    h_s, h_i = np.divmod(np.arange(nh), N)
    tt = sc.trip_time[t0 + act_s, act_p]
    rt = sc.reb_time[t0 + y_s, y_e]
    cost = np.concatenate([sc.price[t0 + act_s, act_p] - env.beta * tt, -env.beta * rt, np.zeros(nh)])
    rows, cols, vals = [], [], []

    def add(r, c, v):
        rows.append(r), cols.append(c), vals.append(np.broadcast_to(v, np.shape(r)).astype(float))

    node = lambda s, i: s * N + i
    m_cols = np.arange(nm)
    y_cols = nm + np.arange(ny)
    h_cols = nm + ny + np.arange(nh)
    # outflows of (i, s): served trips, rebalancing, carry-over
    add(node(act_s, sc.pairs[act_p, 0]), m_cols, 1.0)
    add(node(y_s, env.src[y_e]), y_cols, 1.0)
    add(node(h_s, h_i), h_cols, 1.0)
    # inflows: carry-over from s-1, trips and rebalancing that become idle at s (= departure + time + 1)
    keep = h_s + 1 < S
    add(node(h_s[keep] + 1, h_i[keep]), h_cols[keep], -1.0)
    arr = act_s + tt + 1
    keep = arr < S
    add(node(arr[keep], sc.pairs[act_p[keep], 1]), m_cols[keep], -1.0)
    arr = y_s + rt + 1
    keep = arr < S
    add(node(arr[keep], env.dst[y_e[keep]]), y_cols[keep], -1.0)
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(S * N, nm + ny + nh))
    rhs = env.arrivals[t0 : t0 + S].copy()  # vehicles already on their way
    rhs[0] = env.idle  # step t0: everything idle before matching
    rhs = rhs.reshape(-1)
    upper = np.concatenate([demand[act_s, act_p], np.full(ny + nh, np.inf)])
    if sc.closed is not None:  # no rebalancing on a closed link
        upper[nm : nm + ny][sc.closed[y_e]] = 0.0
    sol = solve_lp(cost, A, rhs, rhs, 0.0, upper, maximize=True, name="mobility oracle MPC")
    served = np.zeros(P)
    first = act_s == 0
    served[act_p[first]] = sol.x[:nm][first]
    flows = sol.x[nm : nm + E]
    return OraclePlan(_clean(served), _clean(flows), sol.objective)


def _clean(x: np.ndarray) -> np.ndarray:
    """Snap solver noise to integers (vertex optima of this network LP are integral) and clip at 0."""
    r = np.rint(x)
    return np.maximum(np.where(np.abs(x - r) < 1e-6, r, x), 0.0)


def _mobility_env(controller, env) -> MobilityEnv:
    """The :class:`MobilityEnv` under ``env``'s wrappers (a controller that plans on the simulator needs one)."""
    base = env.unwrapped
    if not isinstance(base, MobilityEnv):
        raise TypeError(f"{type(controller).__name__} needs a MobilityEnv (got {type(base).__name__})")
    return base


class ForecastMPC(Controller):
    """The receding-horizon MPC an operator can run: the oracle's LP (joint matching and rebalancing, same
    timing and costs), fed the *expected* requests of the coming steps (the scenario's rates) and the
    realised requests of the current step only. Its per-decision time is its own planning time.
    """

    lower = None
    name = "forecast-mpc"
    foresight = False
    """plan with the realised requests (the oracle) instead of their expected counts."""

    def __init__(self, horizon: int = 20) -> None:
        self.horizon = int(horizon)
        self._flows: np.ndarray | None = None
        self._plan_s = 0.0

    def bind(self, env) -> None:
        _mobility_env(self, env).matcher = self._match

    def _match(self, env: MobilityEnv) -> np.ndarray:
        t0 = time.perf_counter()
        plan = oracle_plan(env, self.horizon, foresight=self.foresight)
        self._plan_s += time.perf_counter() - t0
        self._flows = plan.flows
        return plan.served

    def pop_hidden_time(self) -> float:
        s, self._plan_s = self._plan_s, 0.0
        return s

    def act(self, observation) -> np.ndarray:
        if self._flows is None:
            raise RuntimeError(
                f"{type(self).__name__}.act called before the environment's matching step (bind, then reset)"
            )
        flows, self._flows = self._flows, None
        return flows.astype(np.float32)


class OracleMPC(ForecastMPC):
    """Perfect-foresight receding-horizon MPC (joint matching and rebalancing). See the module docstring.

    Args:
        horizon: planning horizon in steps (the reference uses 20 = the whole episode).
    """

    name = "oracle"
    foresight = True


class RebalancingMPC(Controller):
    """A rebalancing-only controller: the environment matches (as it does for every rebalancing policy), then the
    receding-horizon LP plans from the matched state and its first rebalancing flows are applied.

    With ``foresight=True`` (name ``"oracle-rebalancing"``) it plans with the realised requests: the reference of
    what rebalancing alone can reach with the environment's matching. It is not a bound (its plan assumes it
    also chooses the later matchings, which the environment makes greedily), but on the packaged cities it
    earns the oracle's reward, and where it does not, no rebalancing policy is expected to beat it. With
    ``foresight=False`` (``"forecast-rebalancing"``) it is what :class:`RebalancingExpert` teaches."""

    lower = None

    def __init__(self, horizon: int = 20, *, foresight: bool = True, name: str | None = None) -> None:
        self.horizon = int(horizon)
        self.foresight = bool(foresight)
        self.name = name or ("oracle-rebalancing" if foresight else "forecast-rebalancing")
        self._env: MobilityEnv | None = None

    def bind(self, env) -> None:
        self._env = _mobility_env(self, env)

    def flows(self, env: MobilityEnv) -> np.ndarray:
        """The first step's rebalancing flows (E,) planned from ``env``'s matched state."""
        return oracle_plan(env, self.horizon, foresight=self.foresight, matched=True).flows

    def act(self, observation) -> np.ndarray:
        if self._env is None:
            raise RuntimeError(f"{type(self).__name__}.act called before bind(env)")
        return self.flows(self._env).astype(np.float32)


class RebalancingExpert:
    """The teacher of imitation pretraining (:mod:`netctrl.algos.imitation`): the idle-vehicle distribution the
    forecast MPC's plan reaches by rebalancing from the environment's current, matched state (matching is the
    environment's own, as for the agent). No foresight: its decisions are a function of what the policy
    observes (the expected demand of its features)."""

    def __init__(self, horizon: int = 20) -> None:
        self._plan = RebalancingMPC(horizon, foresight=False)

    @property
    def horizon(self) -> int:
        return self._plan.horizon

    def target(self, env: MobilityEnv) -> np.ndarray:
        env = env.unwrapped
        net_inflow = env.scenario.network.incidence() @ self._plan.flows(env)
        return np.maximum(env.idle + net_inflow, 0.0)


def baselines(seed: int = 0) -> dict[str, Controller]:
    """The mobility baselines by name (fresh instances)."""
    return {
        "oracle": OracleMPC(),
        "forecast-mpc": ForecastMPC(),
        "uniform": ConstantDesiredController(name="uniform"),
        "no-rebalancing": ZeroActionController(),
        "random": RandomDesiredController(seed=seed),
    }
