"""Mobility-on-demand (AMoD) environment: a fleet serves Poisson trip requests and rebalances idle vehicles.

This is the simulator of the reference study (Gammelli et al., ICML 2023, section 5.3), vectorised with
NumPy and without any external solver in the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ...errors import ActionError, require_in_box
from .scenario import MobilityScenario, load_city

#: a matcher decides which requests are served at step ``t``: ``matcher(env) -> served (P,)``
Matcher = Callable[["MobilityEnv"], np.ndarray]


def greedy_matching(idle: np.ndarray, origin: np.ndarray, requests: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Exact solution of the reference matching LP ``max sum price*m  s.t. sum_j m_ij <= idle_i, 0 <= m <= requests``.

    The LP separates by origin into fractional knapsacks with unit weights, so serving each origin's requests
    in decreasing price order is optimal (``tests/test_mobility_env.py`` checks it against HiGHS).
    Returns the served requests per pair.
    """
    order = np.lexsort((-price, origin))
    o = origin[order]
    d = requests[order].astype(np.float64)
    cum = np.cumsum(d)
    # cumulative demand within each origin group, before the pair itself
    start = np.r_[True, o[1:] != o[:-1]]
    base = np.maximum.accumulate(np.where(start, cum - d, 0.0))
    before = cum - d - base
    served_sorted = np.clip(idle[o] - before, 0.0, d)
    served = np.empty_like(served_sorted)
    served[order] = served_sorted
    return served


def default_matcher(env: MobilityEnv) -> np.ndarray:
    t = env.t
    return greedy_matching(env.idle, env.pair_origin, env.demand[t], env.scenario.price[t])


@dataclass
class MobilityState:
    """What a lower level needs to turn a desired distribution into rebalancing flows."""

    t: int
    idle: np.ndarray
    """(N,) idle vehicles after this step's matching."""
    reb_time: np.ndarray
    """(E,) rebalancing time of each edge at step ``t`` (steps)."""


class MobilityEnv(gym.Env):
    """Autonomous mobility-on-demand: serve trip requests, rebalance idle vehicles along region edges.

    ## Description
    A city is a strongly connected graph of ``N`` regions with ``E`` directed rebalancing edges. At each of
    ``T`` steps, requests for each simulated origin-destination pair arrive (Poisson, rates from the
    scenario), idle vehicles are matched to them by the *matcher* (by default the reference study's
    revenue-maximising matching LP, solved exactly), then the agent moves idle vehicles along the edges
    (rebalancing). A vehicle that departs at step ``t`` on a trip of ``tau`` steps is idle again at step
    ``t + tau + 1`` (the reference timing: arrivals become available one step after they land).

    ## Observation Space
    A ``Dict`` of fixed-shape arrays (the policy builds a PyG graph from it):

    | key | shape | bounds | content |
    |---|---|---|---|
    | ``x`` | (N, 5K+3) | (-inf, inf) | per region, scaled: idle vehicles now; for ``k = 1..K``: vehicles available at ``t+k`` from what is already on the road, the expected balance at ``t+k`` (that, plus vehicles that expected future trips bring, minus expected future departures), expected departures, expected trip landings and expected revenue at ``t+k``; requests left unserved now; fraction of the episode elapsed |
    | ``edge_index`` | (2, E) | [0, N-1] | rebalancing edges (source row, target row) |
    | ``edge_attr`` | (E, 2) | [0, inf) | rebalancing time (scaled), rebalancing cost per vehicle (scaled) |

    Vehicle counts are divided by the mean fleet per region, rates and revenues by the mean requests per
    region and step (and the mean price), so any city has features of order one.

    ## Action Space
    ``Box(0, fleet, (E,))``: vehicles to send along each rebalancing edge. If a region is asked to send more
    than its idle vehicles, its outflows are scaled down proportionally (``info['action_scaled']``); flows on a
    closed link (setting ``closed_links``) are refused, the vehicles stay. ``info['violations']`` counts both
    (closed links asked to carry vehicles, regions asked to send more than they have). NaN or
    clearly negative entries raise :class:`~netctrl.errors.ActionError` and leave the state unchanged.

    ## Rewards
    Step ``t`` pays the matching profit of step ``t`` (served requests times price minus ``beta`` per step of
    trip, clipped at 0 as in the reference) minus ``beta`` times the rebalancing vehicle-steps of step ``t``.
    The episode return is the reference study's episode reward.

    ## Starting State
    The scenario's fleet split evenly over regions; requests for the whole episode are drawn at ``reset``
    from ``self.np_random`` (so a seed fixes the demand for every controller); step 0's matching is done.
    ``reset(options={"demand": counts})`` replays given request counts (shape ``(H, P)``) instead.

    ## Episode End
    Terminates after ``T`` steps (``T = scenario.steps``; 20 for the packaged cities).

    ## Arguments
    * ``scenario``: a :class:`MobilityScenario` or a packaged city name.
    * ``matcher``: ``matcher(env) -> served (P,)``; the oracle MPC installs its own.
    * ``forecast_steps``: ``K``, the look-ahead of the features (default 10).
    * ``**city_overrides``: passed to :func:`load_city` when ``scenario`` is a name
      (e.g. ``demand_pairs="all"``).

    ## Version History
    * v0: first version.

    >>> env = MobilityEnv("nyc_brooklyn")
    >>> obs, info = env.reset(seed=0)
    >>> obs["x"].shape, obs["edge_index"].shape
    ((14, 53), (2, 56))
    >>> obs, reward, terminated, truncated, info = env.step(np.zeros(56, dtype=np.float32))
    >>> bool(round(env.idle.sum() + env.in_transit(), 3) == env.scenario.fleet.sum())
    True
    """  # noqa: E501 -- a Markdown table row (the observation's ``x``) cannot be wrapped

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 -- Gymnasium's Env declares it a plain class attribute

    def __init__(
        self,
        scenario: MobilityScenario | str = "nyc_brooklyn",
        *,
        matcher: Matcher | None = None,
        forecast_steps: int = 10,
        render_mode: str | None = None,
        **city_overrides: Any,
    ) -> None:
        if isinstance(scenario, str):
            scenario = load_city(scenario, **city_overrides)
        elif city_overrides:
            raise TypeError(f"city overrides {sorted(city_overrides)} need a city name, not a loaded scenario")
        self.scenario = sc = scenario
        self.matcher: Matcher = matcher or default_matcher
        self.render_mode = render_mode
        self.K = int(forecast_steps)
        if self.K < 1 or sc.settings.lookahead < self.K:
            raise ValueError(f"Expected 'forecast_steps' in [1, {sc.settings.lookahead}] (got {forecast_steps})")
        net = sc.network
        self.N, self.E, self.T = net.num_nodes, net.num_edges, sc.steps
        self.src, self.dst = net.sources, net.targets
        self.pair_origin, self.pair_dest = sc.pairs[:, 0], sc.pairs[:, 1]
        self.beta = sc.beta
        self.horizon = sc.rate.shape[0]
        # scales that make features O(1) for any city
        self.vehicle_scale = float(sc.fleet.mean())
        rate_T = sc.rate[: self.T]
        self.rate_scale = max(float(rate_T.sum()) / (self.T * self.N), 1e-6)
        self.price_scale = max(float((rate_T * sc.price[: self.T]).sum() / max(rate_T.sum(), 1e-9)), 1e-6)
        # expected requests and revenue departing from each region at each step, and the expected vehicles
        # that those future trips bring to their destinations (idle again at departure + trip time + 1)
        onehot = np.zeros((len(sc.pairs), self.N))
        onehot[np.arange(len(sc.pairs)), self.pair_origin] = 1.0
        self._pair_onehot = onehot
        self._rate_by_origin = sc.rate @ onehot
        self._revenue_by_origin = (sc.rate * sc.price) @ onehot
        land = np.zeros((self.horizon + int(sc.trip_time.max()) + 2, self.N))
        steps = np.repeat(np.arange(self.horizon), len(sc.pairs))
        np.add.at(
            land, (steps + sc.trip_time.reshape(-1) + 1, np.tile(self.pair_dest, self.horizon)), sc.rate.reshape(-1)
        )
        self._trip_landings = land
        max_delay = int(max(sc.trip_time.max(), sc.reb_time.max())) + 2
        self._buffer_len = self.horizon + max_delay + self.K + 1
        self.edge_attr = np.stack(
            [
                net.edge_attr["reb_time"] / max(net.edge_attr["reb_time"].mean(), 1e-9),
                self.beta * net.edge_attr["reb_time"] / self.price_scale,
            ],
            axis=1,
        ).astype(np.float32)
        self.num_node_features = 5 * self.K + 3
        self.observation_space = spaces.Dict(
            {
                "x": spaces.Box(-np.inf, np.inf, (self.N, self.num_node_features), np.float32),
                "edge_index": spaces.Box(0, self.N - 1, (2, self.E), np.int64),
                "edge_attr": spaces.Box(0.0, np.inf, (self.E, 2), np.float32),
            }
        )
        self.action_space = spaces.Box(0.0, float(sc.fleet.sum()), (self.E,), np.float32)
        self._edge_index = net.edge_index.astype(np.int64)
        self.demand = np.zeros((self.horizon, len(sc.pairs)))
        self.shock: dict | None = None
        """the demand shock of this episode (regions, start, stop), drawn at reset; ``None``: no shock"""
        self.t = 0
        self.idle = sc.fleet.astype(np.float64).copy()
        self.arrivals = np.zeros((self._buffer_len, self.N))
        self.served = np.zeros(len(sc.pairs))
        self._pending_match_reward = 0.0
        self._match_info: dict[str, float] = {}

    # ------------------------------------------------------------------ state
    def in_transit(self) -> float:
        """Vehicles on the road (carrying passengers or rebalancing)."""
        return float(self.arrivals[self.t + 1 :].sum())

    def flow_state(self) -> MobilityState:
        return MobilityState(self.t, self.idle.copy(), self.scenario.reb_time[min(self.t, self.horizon - 1)])

    def _observation(self) -> dict[str, np.ndarray]:
        t, K, N = self.t, self.K, self.N
        vs, rs = self.vehicle_scale, self.rate_scale

        def window(arr: np.ndarray, start: int) -> np.ndarray:  # rows start..start+K-1, zero-padded
            out = np.zeros((K, N))
            rows = arr[start : start + K]
            out[: rows.shape[0]] = rows
            return out

        projected = self.idle + np.cumsum(self.arrivals[t + 1 : t + K + 1], axis=0)  # (K, N) known supply
        departures = window(self._rate_by_origin, t + 1)  # expected demand
        landings = window(self._trip_landings, t + 1)  # from future trips
        balance = projected + np.cumsum(landings, axis=0) - np.cumsum(departures, axis=0)
        revenue = window(self._revenue_by_origin, t + 1)
        if t < self.T:
            unserved = (self.demand[t] - self.served) @ self._pair_onehot
        else:
            unserved = np.zeros(N)
        x = np.column_stack(
            [
                self.idle / vs,
                projected.T / vs,
                balance.T / vs,
                departures.T / rs,
                landings.T / rs,
                revenue.T / (rs * self.price_scale),
                unserved / rs,
                np.full(N, t / self.T),
            ]
        )
        return {
            "x": x.astype(np.float32),
            "edge_index": self._edge_index.copy(),
            "edge_attr": self.edge_attr.copy(),
        }

    # ------------------------------------------------------------------ dynamics
    def _match(self) -> None:
        """Serve requests of step ``t`` with the matcher; its profit is paid by the next ``step``."""
        t = self.t
        served = np.asarray(self.matcher(self), dtype=np.float64)
        req = self.demand[t]
        if served.shape != req.shape:
            raise ActionError(f"Expected the matcher to return shape {req.shape} (got {served.shape})")
        if not np.all(np.isfinite(served)):
            raise ActionError("matcher returned NaN/inf")
        served = np.clip(served, 0.0, req)
        out = np.bincount(self.pair_origin, weights=served, minlength=self.N)
        over = out > self.idle + 1e-6
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise ActionError(
                f"matcher serves {out[i]:.3f} requests from region {self.scenario.network.name(i)} "
                f"which has only {self.idle[i]:.3f} idle vehicles"
            )
        tt = self.scenario.trip_time[t]
        self.idle = np.maximum(self.idle - out, 0.0)
        np.add.at(self.arrivals, (t + tt + 1, self.pair_dest), served)
        price = self.scenario.price[t]
        profit = float(served @ (price - self.beta * tt))
        self.served = served
        self._pending_match_reward = max(profit, 0.0)
        self._match_info = {
            "requests": float(req.sum()),
            "served": float(served.sum()),
            "revenue": float(served @ price),
            "trip_cost": float(self.beta * served @ tt),
        }

    def _shocked_rate(self) -> np.ndarray:
        """The request rates of this episode: the scenario's realised ones (:attr:`~.MobilityScenario.realised_rate`:
        with the settings' shifted demand, if any), with the settings' demand shock (if any) drawn
        from ``np_random``: ``shock_share`` of the regions, ``shock_steps`` steps from a uniform start, the rates
        of the pairs leaving them multiplied by ``shock_multiplier``. What was drawn is in :attr:`shock`."""
        sc = self.scenario
        s = sc.settings
        self.shock = None
        if not s.has_shock:
            return sc.realised_rate
        k = max(1, round(s.shock_share * self.N))
        regions = np.sort(self.np_random.choice(self.N, size=k, replace=False))
        start = int(self.np_random.integers(0, s.steps - s.shock_steps + 1))
        rate = sc.realised_rate.copy()
        rate[start : start + s.shock_steps, np.isin(sc.pairs[:, 0], regions)] *= s.shock_multiplier
        self.shock = {"regions": regions, "start": start, "stop": start + s.shock_steps}
        return rate

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        sc = self.scenario
        if options and "demand" in options:
            demand = np.asarray(options["demand"], dtype=np.float64)
            if demand.shape != sc.rate.shape or not np.all(np.isfinite(demand)) or (demand < 0).any():
                raise ValueError(
                    f"Expected options['demand'] to be non-negative request counts of shape {sc.rate.shape} "
                    f"(got shape {demand.shape})"
                )
            self.demand = demand.copy()
        else:
            self.demand = self.np_random.poisson(self._shocked_rate()).astype(np.float64)
        self.t = 0
        self.idle = sc.fleet.astype(np.float64).copy()
        self.arrivals = np.zeros((self._buffer_len, self.N))
        self._match()
        return self._observation(), self._info(0.0, 0.0, False)

    def step(self, action):
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self.E,):
            raise ActionError(f"Expected a rebalancing action of shape ({self.E},) (got {a.shape})")
        if not np.all(np.isfinite(a)):
            raise ActionError(f"Expected finite rebalancing flows (got {int((~np.isfinite(a)).sum())} NaN/inf entries)")
        if (a < -1e-6).any():
            k = int(np.argmin(a))
            raise ActionError(f"Expected non-negative rebalancing flows (got {a[k]:.4g} on edge {k})")
        require_in_box(
            "rebalancing flows (bounded by the fleet size)", a, self.action_space.low, self.action_space.high
        )
        if self.t >= self.T:
            raise RuntimeError("step() called after the episode terminated; call reset()")
        a = np.maximum(a, 0.0)
        violations = 0
        if self.scenario.closed is not None:  # refused: the vehicles stay where they are
            refused = self.scenario.closed & (a > 1e-6)
            violations = int(refused.sum())
            a = np.where(self.scenario.closed, 0.0, a)
        out = np.bincount(self.src, weights=a, minlength=self.N)
        scaled = bool((out > self.idle + 1e-6).any())
        violations += int((out > self.idle + 1e-5 * self.idle + 1e-6).sum())
        if scaled:
            factor = np.where(out > self.idle, self.idle / np.maximum(out, 1e-12), 1.0)
            a = a * factor[self.src]
            out = np.bincount(self.src, weights=a, minlength=self.N)
        t = self.t
        reb_time = self.scenario.reb_time[t]
        self.idle = np.maximum(self.idle - out, 0.0)
        np.add.at(self.arrivals, (t + reb_time + 1, self.dst), a)
        reb_cost = float(self.beta * a @ reb_time)
        match_reward = self._pending_match_reward
        match_info = self._match_info
        self.t = t + 1
        self.idle = self.idle + self.arrivals[self.t]
        terminated = self.t >= self.T
        if not terminated:
            self._match()
        info = self._info(match_reward, reb_cost, scaled, match_info, violations)
        return self._observation(), match_reward - reb_cost, terminated, False, info

    def _info(
        self,
        match_reward: float,
        reb_cost: float,
        scaled: bool,
        match_info: dict | None = None,
        violations: int = 0,
    ) -> dict:
        mi = (
            match_info if match_info is not None else {"requests": 0.0, "served": 0.0, "revenue": 0.0, "trip_cost": 0.0}
        )
        return {
            "t": self.t,
            "matching_reward": match_reward,
            "rebalancing_cost": reb_cost,
            "action_scaled": scaled,
            "violations": violations,
            **mi,
        }

    def render(self):
        if self.render_mode == "ansi":
            return f"t={self.t} idle={np.round(self.idle).astype(int).tolist()} in_transit={self.in_transit():.0f}"
        return None
