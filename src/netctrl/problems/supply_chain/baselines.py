"""Supply-chain baselines: the oracle MPC, the forecast MPC, the order-up-to heuristic tuned per node, random.

* :class:`OracleMPC`: perfect demand foresight. Each step it solves one LP over the next ``horizon`` steps
  (10, as the reference) with the realised demand, the in-transit stock and the simulator's exact accounting
  (storage on positive stock, backlog on negative stock, over-capacity stock discarded at a penalty), and
  applies the first step's production and shipments. With ``horizon >= T`` its plan is the optimum of the
  episode: an upper bound of every controller on the same seed.
* :class:`ForecastMPC` (``forecast-mpc``): what an operator runs. The same LP, fed the demand as the controller
  knows it (:meth:`SupplyChainEnv.known_demand`: the realised demand within ``advance_info`` steps, the
  scenario's expected demand beyond), re-planned every step. Where ``advance_info`` covers every lead time it
  plans as the oracle does; with forecasts only (``advance_info = 0``) it plans on the seasonal mean.
* :class:`SampleAverageMPC` (``saa-mpc``): the stronger practice. The same LP for 10 demand scenarios drawn from
  the scenario's demand model, this step's decisions shared by all, the mean profit maximised.
* :class:`OrderUpTo`: every node orders from its supplier up to its own level ``S_n`` (net of its inventory
  position), a short supplier splits its stock in proportion to the orders, and each factory produces up to
  ``S_f``. The levels are tuned **per node** on training seeds by :func:`tune_order_up_to` (the reference
  heuristic shares one store level, which loses money on stores of different sizes). The horizon-aware
  variant (``order-up-to-horizon``) also stops ordering for demand after the episode's end; on the
  reference configurations, where demand is known over every lead time (``advance_info = 3``), it equals
  the oracle.
* ``random`` (reference): production equal to the mean total demand, a flat-Dirichlet distribution, through
  the LP lower level.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...controllers import Controller, SeededController
from ...lp import solve_lp
from .env import SupplyChainEnv
from .scenario import SupplyChainScenario


# ---------------------------------------------------------------------------------------------- oracle
@dataclass
class SupplyPlan:
    production: np.ndarray
    shipments: np.ndarray
    value: float
    """profit of the plan over its horizon (revenue included)."""


def _plan_lp(env: SupplyChainEnv, D: np.ndarray, lead: np.ndarray | None = None):
    """The planning LP from the state of step ``env.t`` over ``len(D)`` steps for the demand ``D`` ``(S, N)``:
    ``(cost, A, lo, hi, upper, offs, demand_rows)`` (maximise ``cost @ x``; column blocks at ``offs``: shipments,
    production, positive stock, negative stock, discard, each ``(S, size)``; ``demand_rows`` ``(S * N,)``: the
    dynamics rows, whose bounds ``known - D`` are the only place the demand enters). ``lead`` ``(S, E)``: the lead
    times of shipments sent at each step (default: the links' own)."""
    sc = env.scenario
    t0 = env.t
    S = len(D)
    N, E, F = env.N, env.E, env.F
    fac = env.factories
    ptime = sc.production_time[fac]
    lead = np.broadcast_to(env.lead, (S, E)) if lead is None else np.asarray(lead)
    arrive = np.arange(S)[:, None] + lead  # (S, E) the step at which shipment column (u, e) arrives
    known = env.arrivals[t0 : t0 + S].copy()  # (S, N) already on the way
    known[0] += env.stock  # end-of-last-step stock
    # column blocks, each (S, size): q (E), p (F), xp (N), xm (N), dis (N)
    sizes = [E, F, N, N, N]
    offs = np.cumsum([0] + [S * k for k in sizes])
    col = lambda b, s, i: offs[b] + s * sizes[b] + i
    n_cols = int(offs[-1])
    rows, cols, vals = [], [], []
    lo, hi, demand_rows = [], [], []
    r = 0

    def add(rr, cc, vv):
        (
            rows.append(np.broadcast_to(rr, np.shape(cc))),
            cols.append(np.asarray(cc)),
            vals.append(np.broadcast_to(float(vv), np.shape(cc))),
        )

    e_idx, f_idx, n_idx = np.arange(E), np.arange(F), np.arange(N)
    for s in range(S):
        # (a) dynamics: xp - xm - x_end(s-1) - arrivals(q, p) + outflow = known - demand
        base = r
        add(base + n_idx, col(2, s, n_idx), 1.0)
        add(base + n_idx, col(3, s, n_idx), -1.0)
        add(base + env.src, col(0, s, e_idx), 1.0)
        if s > 0:
            add(base + n_idx, col(2, s - 1, n_idx), -1.0)
            add(base + n_idx, col(3, s - 1, n_idx), 1.0)
            add(base + n_idx, col(4, s - 1, n_idx), 1.0)
        e_in, u_in = np.nonzero(s == arrive.T)  # the shipments arriving at s, by edge
        add(base + env.dst[e_in], col(0, u_in, e_in), -1.0)
        arr_f = s - ptime >= 0
        add(base + fac[arr_f], col(1, (s - ptime)[arr_f], f_idx[arr_f]), -1.0)
        rhs = known[s] - D[s]
        lo.append(rhs), hi.append(rhs), demand_rows.append(base + n_idx)
        r += N
        # (b) availability of the nodes that ship: outflow - x_end(s-1) - arrivals <= known
        ship_nodes = np.unique(env.src)
        row_of = np.full(N, -1)
        row_of[ship_nodes] = r + np.arange(ship_nodes.size)
        add(row_of[env.src], col(0, s, e_idx), 1.0)
        if s > 0:
            add(row_of[ship_nodes], col(2, s - 1, ship_nodes), -1.0)
            add(row_of[ship_nodes], col(3, s - 1, ship_nodes), 1.0)
            add(row_of[ship_nodes], col(4, s - 1, ship_nodes), 1.0)
        m = row_of[env.dst[e_in]] >= 0
        add(row_of[env.dst[e_in[m]]], col(0, u_in[m], e_in[m]), -1.0)
        m = arr_f & (row_of[fac] >= 0)
        add(row_of[fac[m]], col(1, (s - ptime)[m], f_idx[m]), -1.0)
        lo.append(np.full(ship_nodes.size, -np.inf)), hi.append(known[s][ship_nodes])
        r += ship_nodes.size
        # (c) capacity after discarding: xp - xm - dis <= C
        base = r
        add(base + n_idx, col(2, s, n_idx), 1.0)
        add(base + n_idx, col(3, s, n_idx), -1.0)
        add(base + n_idx, col(4, s, n_idx), -1.0)
        lo.append(np.full(N, -np.inf)), hi.append(sc.capacity)
        r += N
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_cols))
    cost = np.concatenate(
        [
            np.tile(-sc.network.edge_attr["cost"], S),
            np.tile(-sc.production_cost[fac], S),
            np.tile(-sc.storage_cost, S),
            np.full(S * N, -sc.backlog_penalty),
            np.full(S * N, -sc.overcapacity_penalty),
        ]
    )
    upper = np.concatenate(
        [np.tile(env.edge_cap, S), np.tile(sc.production_capacity[fac], S), np.full(3 * S * N, np.inf)]
    )
    return cost, A, np.concatenate(lo), np.concatenate(hi), upper, offs, np.concatenate(demand_rows)


def oracle_plan(env: SupplyChainEnv, horizon: int, foresight: bool = True) -> SupplyPlan:
    """Solve the receding-horizon LP from the state of step ``env.t`` with the realised demand and lead times
    (``foresight``) or with what the controller knows (``foresight=False``: the demand of
    :meth:`SupplyChainEnv.known_demand`, the expected lead times of :meth:`SupplyChainEnv.planning_lead`); the
    plan's value is then its value under that forecast."""
    t0 = env.t
    S = min(horizon, env.T - t0)
    D = env.demand[t0 : t0 + S] if foresight else env.known_demand(t0, S)  # (S, N) realised or forecast
    cost, A, lo, hi, upper, offs, _ = _plan_lp(env, D, env.planning_lead(t0, S, foresight))
    sol = solve_lp(cost, A, lo, hi, 0.0, upper, maximize=True, name="supply-chain oracle MPC")
    x = sol.x
    return SupplyPlan(
        production=np.maximum(x[offs[1] : offs[1] + env.F], 0.0),
        shipments=np.maximum(x[offs[0] : offs[0] + env.E], 0.0),
        value=float(sol.objective + env.scenario.price * D.sum()),
    )


def sample_average_plan(env: SupplyChainEnv, horizon: int, samples: int, rng: np.random.Generator) -> SupplyPlan:
    """The sample-average (two-stage stochastic) plan: ``samples`` demand scenarios over the next ``horizon``
    steps (the realised demand within ``advance_info``, draws of the scenario's demand model beyond), one copy of
    the planning LP per scenario, this step's production and shipments shared by all (non-anticipative), the
    mean profit maximised (the lead times are the expected ones in every scenario). ``value``: that mean."""
    sc = env.scenario
    t0 = env.t
    S = min(horizon, env.T - t0)
    known = min(sc.advance_info, S)
    demands = []
    for _ in range(samples):
        D = sc.sample_demand(rng, S, t0)
        D[:known] = env.demand[t0 : t0 + known]
        demands.append(D)
    # one LP per scenario, all alike but for the demand rows' bounds: built once, its bounds shifted per scenario
    cost0, A0, lo0, hi0, upper0, offs, rows = _plan_lp(env, demands[0], env.planning_lead(t0, S, False))
    n = A0.shape[1]
    first = np.concatenate([offs[0] + np.arange(env.E), offs[1] + np.arange(env.F)])  # step 0's q and p
    k = len(first)
    # non-anticipativity: scenario j's first-step columns equal scenario 0's
    tie = sp.vstack(
        [
            sp.csr_matrix(
                (np.r_[np.ones(k), -np.ones(k)], (np.r_[np.arange(k), np.arange(k)], np.r_[j * n + first, first])),
                shape=(k, samples * n),
            )
            for j in range(1, samples)
        ]
        or [sp.csr_matrix((0, samples * n))]
    )
    lo, hi = [], []
    for D in demands:
        shift = (demands[0] - D).ravel()  # the demand rows' bound is known - D
        for b0, out in ((lo0, lo), (hi0, hi)):
            b = b0.copy()
            b[rows] += shift
            out.append(b)
    A = sp.vstack([sp.block_diag([A0] * samples, format="csr"), tie], format="csr")
    lo = np.concatenate([*lo, np.zeros(tie.shape[0])])
    hi = np.concatenate([*hi, np.zeros(tie.shape[0])])
    cost = np.tile(cost0, samples) / samples
    upper = np.tile(upper0, samples)
    sol = solve_lp(cost, A, lo, hi, 0.0, upper, maximize=True, name="supply-chain sample-average MPC")
    x = sol.x
    return SupplyPlan(
        production=np.maximum(x[offs[1] : offs[1] + env.F], 0.0),
        shipments=np.maximum(x[offs[0] : offs[0] + env.E], 0.0),
        value=float(sol.objective + np.mean([sc.price * D.sum() for D in demands])),
    )


class OracleMPC(Controller):
    """Perfect-foresight receding-horizon MPC (see the module docstring)."""

    lower = None
    name = "oracle"
    foresight = True

    def __init__(self, horizon: int = 10) -> None:
        self.horizon = int(horizon)
        self.env: SupplyChainEnv | None = None

    def bind(self, env) -> None:
        base = env.unwrapped
        if not isinstance(base, SupplyChainEnv):
            raise TypeError(f"OracleMPC needs a SupplyChainEnv (got {type(base).__name__})")
        self.env = base

    def act(self, observation) -> np.ndarray:
        plan = oracle_plan(self.env, self.horizon, self.foresight)
        return np.concatenate([plan.production, plan.shipments]).astype(np.float32)


class SampleAverageMPC(OracleMPC):
    """Receding-horizon sample-average MPC (``saa-mpc``): each step, :func:`sample_average_plan` over ``samples``
    demand scenarios drawn from the scenario's demand model (its own generator, drawn afresh each episode from
    ``seed`` and the episode's seed), the realised demand within ``advance_info``."""

    name = "saa-mpc"
    foresight = False

    def __init__(self, horizon: int = 10, samples: int = 10, seed: int = 0) -> None:
        super().__init__(horizon)
        self.samples, self.seed = int(samples), int(seed)
        self.rng = np.random.default_rng(self.seed)

    def begin_episode(self, seed: int) -> None:
        self.rng = np.random.default_rng([self.seed, int(seed)])

    def act(self, observation) -> np.ndarray:
        plan = sample_average_plan(self.env, self.horizon, self.samples, self.rng)
        return np.concatenate([plan.production, plan.shipments]).astype(np.float32)


class ForecastMPC(OracleMPC):
    """Receding-horizon MPC on the demand the controller knows (see the module docstring): the oracle's LP
    with :meth:`SupplyChainEnv.known_demand` in place of the realised demand."""

    name = "forecast-mpc"
    foresight = False


# ---------------------------------------------------------------------------------------------- order-up-to
class OrderUpTo(Controller):
    """Echelon order-up-to (base-stock) policy with a level per node, tracking the known demand.

    The policy itself is :meth:`SupplyChainEnv.base_stock`: every node raises its echelon inventory position
    to the demand of its stores over its lead time plus a safety level ``safety_n``; orders go to the node's
    suppliers, a short supplier ships in proportion to the orders, factories produce up to their level.

    Args:
        safety: (N,) per-node safety stock (the tuned parameters); ``None``: tuned with :func:`tuned_levels`
            for the environment's scenario when first bound.
        dynamic: add the demand over the protection interval to the level (``False``: constant levels).
        horizon_aware: count no demand after the episode's last step (``order-up-to-horizon`` in the
            benchmarks). The textbook policy (``False``) keeps ordering for demand it will never see.
    """

    lower = None

    def __init__(self, safety: np.ndarray | None = None, dynamic: bool = True, horizon_aware: bool = False) -> None:
        self.safety = None if safety is None else np.asarray(safety, dtype=np.float64)
        self.dynamic = dynamic
        self.horizon_aware = horizon_aware
        self.name = "order-up-to-horizon" if horizon_aware else "order-up-to"
        self.env: SupplyChainEnv | None = None

    def bind(self, env) -> None:
        self.env = env.unwrapped
        if self.safety is None:
            self.safety = tuned_levels(self.env.scenario, horizon_aware=self.horizon_aware)

    def act(self, observation) -> np.ndarray:
        prod, ship = self.env.base_stock(self.safety, self.dynamic, self.horizon_aware)
        return np.concatenate([prod, ship]).astype(np.float32)


def tune_order_up_to(
    sc: SupplyChainScenario,
    seeds,
    *,
    dynamic: bool = True,
    horizon_aware: bool = False,
    passes: int = 4,
    max_step: float = 16.0,
) -> tuple[np.ndarray, float]:
    """Tune one safety level per node by pattern search on the mean return over ``seeds`` (training seeds).

    Returns the per-node safety levels and their mean return.
    """
    env = SupplyChainEnv(sc)
    demands = []
    for s in seeds:
        env.reset(seed=int(s))
        demands.append(env.demand.copy())

    def score(safety: np.ndarray) -> float:
        pol = OrderUpTo(safety, dynamic=dynamic, horizon_aware=horizon_aware)
        pol.bind(env)
        total = 0.0
        for d in demands:
            obs, _ = env.reset(options={"demand": d})
            done = False
            while not done:
                obs, r, done, _, _ = env.step(pol.act(obs))
                total += r
        return total / len(demands)

    if dynamic:
        safety = np.zeros(sc.num_nodes)
    else:
        protect, _offset, sub = sc.echelons()
        safety = np.ceil(sc.expected_demand(0, 15).max(axis=0) @ sub.T * protect)
    best = score(safety)
    step = max_step
    while step >= 0.5:
        for _ in range(passes):
            improved = False
            for n in range(sc.num_nodes):
                for delta in (step, -step):
                    cand = safety.copy()
                    cand[n] = cand[n] + delta if dynamic else max(0.0, cand[n] + delta)
                    val = score(cand)
                    if val > best + 1e-9:
                        safety, best, improved = cand, val, True
                        break
            if not improved:
                break
        step /= 2
    return safety, best


class RandomDistribution(SeededController):
    """The reference ``random``: production = mean total demand, flat-Dirichlet distribution (through the LP)."""

    lower = "lp"
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self._shape = None

    def bind(self, env) -> None:
        self._f = env.unwrapped.F
        self._n = env.unwrapped.N

    def act(self, observation) -> np.ndarray:
        prod = np.ones(self._f)  # in units of the mean total demand per step
        return np.concatenate([prod, self.rng.dirichlet(np.ones(self._n))]).astype(np.float32)


_TUNED: dict[tuple[str, bool], tuple[np.ndarray, float]] = {}
TUNING_SEEDS = tuple(range(3000, 3008))


def _fingerprint(sc: SupplyChainScenario) -> str:
    """A digest of everything that defines a scenario (its arrays, network and parameters)."""
    h = hashlib.sha256()
    for f in dataclasses.fields(sc):
        v = getattr(sc, f.name)
        if f.name == "network":
            h.update(np.ascontiguousarray(v.edge_index).tobytes())
            for k in sorted(v.edge_attr):
                h.update(k.encode() + np.ascontiguousarray(v.edge_attr[k], dtype=np.float64).tobytes())
        elif isinstance(v, np.ndarray):
            h.update(np.ascontiguousarray(v).tobytes())
        elif f.name != "meta":
            h.update(repr(v).encode())
    return h.hexdigest()


def tuned_levels(sc: SupplyChainScenario, horizon_aware: bool = False) -> np.ndarray:
    """Per-node safety levels tuned on :data:`TUNING_SEEDS` (cached per scenario, variant and process; a scenario
    is known by its content, not its name: a network changed by settings is tuned again)."""
    key = (_fingerprint(sc), horizon_aware)
    if key not in _TUNED:
        t0 = time.perf_counter()
        _TUNED[key] = tune_order_up_to(sc, TUNING_SEEDS, horizon_aware=horizon_aware)
        sc.meta["tuning_s"] = time.perf_counter() - t0
    return _TUNED[key][0]
