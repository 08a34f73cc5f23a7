"""Dynamic multi-commodity network flow: move units of K commodities to their sinks through capacitated arcs."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ...errors import ActionError, require_in_box
from .scenario import NetworkFlowScenario, arrives_in_time, load_named

PIPE = 3  # in-transit columns in the observation (arrivals at t+1..t+3)
AHEAD = 3  # expected-arrival columns (t+1..t+3)
NUM_FEATURES = 1 + PIPE + AHEAD + 7
FEATURE_NEXT_HOP = NUM_FEATURES - 1  # column of the shortest-path next-hop distribution (a Dirichlet prior)
EDGE_FEATURES = 5


@dataclass
class FlowState:
    """What a lower level needs at step ``t``."""

    t: int
    waiting: np.ndarray
    """(K, N) units waiting at each node, per commodity."""
    capacity: np.ndarray
    """(E,) arc capacities of this step."""


class NetworkFlowEnv(gym.Env):
    """Units of ``K`` commodities appear over time and must reach their commodity's sink.

    ## Description
    A directed network with arc capacities (units per step, occasionally halved by disruptions), travel times
    and per-unit costs. Each step the agent sends waiting units along arcs; they arrive ``travel_time`` steps
    later. A unit that reaches its commodity's sink is delivered and earns ``reward``; new units appear at
    every node (Poisson, time-varying rates), and waiting units pay ``holding_cost`` per step.

    The observation treats every commodity as its own copy of the graph (commodity ``k`` is nodes
    ``k*N .. k*N+N-1`` and arcs ``k*E .. k*E+E-1``), so one graph policy with shared weights serves any
    number of commodities and any graph.

    ## Observation Space
    ``x`` (K*N, 14): waiting units of the commodity; its in-transit units arriving at ``t+1..t+3``; its
    expected new units at ``t+1..t+3`` (all divided by the mean arrival per node and step); travel time to its
    sink (divided by the largest); its slack, the steps left after that travel time before the episode's end
    (divided by the episode's length, within [-1, 1]: negative where a unit can no longer arrive); is its sink;
    all commodities' waiting units at the node; the node's outgoing capacity this step (scaled); fraction of the
    episode elapsed; the commodity's units that would arrive at the node if every waiting unit that can still
    reach its sink by the episode's end took the next arc of its shortest path (the deadline-aware greedy
    heuristic's next state). ``edge_index`` (2, K*E). ``edge_attr``
    (K*E, 5): capacity this step (scaled), travel time, cost, how much closer to the commodity's sink the
    arc leads (travel time, can be negative), and the slack of a unit that takes the arc now (steps left before
    the episode's end after the arc and the shortest path from its head, divided by the episode's length, within
    [-1, 1]). The slacks have the same scale on every graph, where the travel times to the sinks do not.

    ## Action Space
    ``Box(0, high, (K*E,))``: units of commodity ``k`` sent along arc ``e`` at index ``k*E + e``. A node's
    outflow of a commodity above what waits there is scaled down, then an arc's total above its capacity.

    ## Rewards
    ``reward * delivered - sum cost_e * flow_e - holding_cost * waiting``.

    ## Episode End
    Terminates after ``steps`` steps (new units stop arriving 5 steps before the end).

    >>> env = NetworkFlowEnv("b4")
    >>> obs, info = env.reset(seed=0)
    >>> obs["x"].shape, env.action_space.shape
    ((48, 14), (152,))
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 -- Gymnasium's Env declares it a plain class attribute

    def __init__(self, scenario: NetworkFlowScenario | str = "b4", *, render_mode: str | None = None, **kwargs) -> None:
        self.scenario = sc = load_named(scenario, **kwargs) if isinstance(scenario, str) else scenario
        self.render_mode = render_mode
        net = sc.network
        self.N, self.E, self.K, self.T = net.num_nodes, net.num_edges, sc.num_commodities, sc.steps
        self.src, self.dst = net.sources, net.targets
        self.travel = net.edge_attr["travel_time"].astype(np.int64)
        self.base_capacity = net.edge_attr["capacity"].astype(np.float64)
        self.cost = net.edge_attr["cost"].astype(np.float64)
        self.sinks = sc.sinks
        self.horizon = sc.rate.shape[0]
        self._buffer = self.horizon + int(self.travel.max()) + PIPE + 2
        self.scale = float(max(sc.rate[: self.T].mean(), 1e-6))
        self.cap_scale = float(np.median(self.base_capacity))
        self.sink_dist = sc.sink_distance().T  # (K, N) travel time to each sink
        dist = self.sink_dist.T  # (N, K)
        self._dist = dist / max(float(dist[np.isfinite(dist)].max()), 1.0)
        self.next_hop = sc.next_hop_arcs()  # (K, N) arc, -1 at the sink
        self._closer = sc.arc_progress()  # (K, E)
        self._via = sc.arc_sink_distance()  # (K, E) to the sink through each arc
        ei = net.edge_index
        self._edge_index = np.concatenate([ei + k * self.N for k in range(self.K)], axis=1).astype(np.int64)
        high = float(max(1e4, 10 * self.base_capacity.sum()))
        self.action_space = spaces.Box(0.0, high, (self.K * self.E,), np.float32)
        self.observation_space = spaces.Dict(
            {
                "x": spaces.Box(-np.inf, np.inf, (self.K * self.N, NUM_FEATURES), np.float32),
                "edge_index": spaces.Box(0, self.K * self.N - 1, (2, self.K * self.E), np.int64),
                "edge_attr": spaces.Box(-np.inf, np.inf, (self.K * self.E, EDGE_FEATURES), np.float32),
            }
        )
        self.t = 0
        self.waiting = np.zeros((self.K, self.N))
        self.pipeline = np.zeros((self._buffer, self.K, self.N))
        self.arrivals = np.zeros((self.horizon, self.K, self.N))
        self.capacity_schedule = np.tile(self.base_capacity, (self.horizon, 1))

    # ------------------------------------------------------------------ state
    def capacity(self, t: int | None = None) -> np.ndarray:
        return self.capacity_schedule[min(self.t if t is None else t, self.horizon - 1)]

    @property
    def expected_arrivals(self) -> np.ndarray:
        """(H, K, N) expected new units per step (the scenario's rates), what a controller may forecast."""
        return self.scenario.rate.transpose(0, 2, 1)

    def flow_state(self) -> FlowState:
        return FlowState(self.t, self.waiting.copy(), self.capacity().copy())

    def can_arrive(self) -> np.ndarray:
        """(K, N) whether a unit of each commodity sent now from each node along its shortest path reaches the
        sink by the episode's end (:func:`~.scenario.arrives_in_time`)."""
        return arrives_in_time(self.sink_dist, self.t, self.T)

    def greedy_flows(self, deadline: bool = False) -> np.ndarray:
        """(K, E) flows sending every waiting unit along the next arc of its shortest path to its sink
        (``deadline``: only the units that can still arrive by the episode's end; the others stay)."""
        flows = np.zeros((self.K, self.E))
        k, i = np.nonzero(self.next_hop >= 0)
        flows[k, self.next_hop[k, i]] = self.waiting[k, i]  # one next arc per (commodity, node)
        if deadline:
            flows *= self.can_arrive()[:, self.src]
        return flows

    def greedy_next(self) -> np.ndarray:
        """(K, N) units of each commodity at or bound for each node after ``greedy_flows(deadline=True)``, cut
        to the arcs' capacities as :meth:`step` would (units an arc cannot take stay where they are)."""
        return self.next_state(self.clip_flows(self.greedy_flows(deadline=True).reshape(-1))[0])

    def next_state(self, flows: np.ndarray) -> np.ndarray:
        """(K, N) units of each commodity at or bound for each node after sending ``flows`` (K, E)."""
        x = np.asarray(flows, dtype=np.float64).reshape(self.K, self.E)
        out = self.waiting.copy()
        np.add.at(out, (slice(None), self.src), -x)
        np.add.at(out, (slice(None), self.dst), x)
        return np.maximum(out, 0.0)

    def _observation(self) -> dict[str, np.ndarray]:
        t, K, N, s = self.t, self.K, self.N, self.scale
        pipe = self.pipeline[t + 1 : t + 1 + PIPE]  # (PIPE, K, N)
        rows = self.scenario.rate[t + 1 : t + 1 + AHEAD].transpose(0, 2, 1)  # (<=AHEAD, K, N)
        ahead = np.zeros((AHEAD, K, N))
        ahead[: rows.shape[0]] = rows
        cap = self.capacity()
        out_cap = np.bincount(self.src, weights=cap, minlength=N) / (self.cap_scale * 4)
        total = self.waiting.sum(axis=0) / (s * K)
        sink_flag = np.zeros((K, N))
        sink_flag[np.arange(K), self.sinks] = 1.0
        x = np.concatenate(
            [
                self.waiting[..., None] / s,
                pipe.transpose(1, 2, 0) / s,
                ahead.transpose(1, 2, 0) / s,
                self._dist.T[..., None],
                self._slack(self.sink_dist)[..., None],
                sink_flag[..., None],
                np.broadcast_to(total, (K, N))[..., None],
                np.broadcast_to(out_cap, (K, N))[..., None],
                np.full((K, N, 1), t / self.T),
                self.greedy_next()[..., None] / s,
            ],
            axis=2,
        ).reshape(K * N, NUM_FEATURES)
        ea = np.concatenate(
            [
                np.tile(cap / self.cap_scale, K)[:, None],
                np.tile(self.travel, K)[:, None].astype(np.float64),
                np.tile(self.cost, K)[:, None],
                self._closer.reshape(-1, 1),
                self._slack(self._via).reshape(-1, 1),
            ],
            axis=1,
        )
        return {"x": x.astype(np.float32), "edge_index": self._edge_index.copy(), "edge_attr": ea.astype(np.float32)}

    def _slack(self, travel: np.ndarray) -> np.ndarray:
        """Steps left before the episode's end after ``travel`` from now, over the episode's length, in [-1, 1]
        (-1 where the sink is unreachable)."""
        with np.errstate(invalid="ignore"):
            return np.clip(np.nan_to_num((self.T - self.t - travel) / self.T, neginf=-1.0), -1.0, 1.0)

    # ------------------------------------------------------------------ dynamics
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        sc = self.scenario
        self.arrivals = self.np_random.poisson(sc.rate).transpose(0, 2, 1).astype(np.float64)  # (H, K, N)
        self.capacity_schedule = np.tile(self.base_capacity, (self.horizon, 1))
        n_dis = int(np.ceil(sc.disruptions * self.E))
        if n_dis:
            arcs = self.np_random.choice(self.E, size=n_dis, replace=False)
            starts = self.np_random.integers(0, max(1, self.T - 10), size=n_dis)
            for e, s0 in zip(arcs, starts):
                self.capacity_schedule[s0 : s0 + 10, e] *= 0.5
        self.t = 0
        self.pipeline = np.zeros((self._buffer, self.K, self.N))
        self.waiting = self.arrivals[0].copy()
        return self._observation(), {"t": 0, "delivered": 0.0}

    def clip_flows(self, action) -> tuple[np.ndarray, bool]:
        """(K, E) flows after the availability and capacity limits; raises on invalid input."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self.K * self.E,):
            raise ActionError(f"Expected flows of shape ({self.K * self.E},) = commodities x arcs (got {a.shape})")
        if not np.all(np.isfinite(a)):
            raise ActionError(f"Expected finite flows (got {int((~np.isfinite(a)).sum())} NaN/inf)")
        if (a < -1e-6).any():
            k = int(np.argmin(a))
            raise ActionError(
                f"Expected non-negative flows (got {a[k]:.4g} for commodity {k // self.E}, arc {k % self.E})"
            )
        require_in_box("flows", a, self.action_space.low, self.action_space.high)
        x = np.maximum(a, 0.0).reshape(self.K, self.E)
        out = np.zeros((self.K, self.N))
        np.add.at(out, (slice(None), self.src), x)
        scaled = False
        over = out > self.waiting + 1e-9
        if over.any():
            f = np.where(over, self.waiting / np.maximum(out, 1e-12), 1.0)
            x = x * f[:, self.src]
            scaled = True
        cap = self.capacity()
        total = x.sum(axis=0)
        if (total > cap + 1e-9).any():
            x = x * np.where(total > cap, cap / np.maximum(total, 1e-12), 1.0)
            scaled = True
        return x, scaled

    def step(self, action):
        x, scaled = self.clip_flows(action)
        if self.t >= self.T:
            raise RuntimeError("step() called after the episode terminated; call reset()")
        sc, t = self.scenario, self.t
        out = np.zeros((self.K, self.N))
        np.add.at(out, (slice(None), self.src), x)
        self.waiting = np.maximum(self.waiting - out, 0.0)
        np.add.at(self.pipeline, (t + self.travel[None, :], np.arange(self.K)[:, None], self.dst[None, :]), x)
        transport = float((x * self.cost).sum())
        self.t = t + 1
        self.waiting += self.pipeline[self.t]
        delivered = self.waiting[np.arange(self.K), self.sinks].copy()
        self.waiting[np.arange(self.K), self.sinks] = 0.0
        if self.t < self.horizon:
            self.waiting += self.arrivals[self.t]
        holding = sc.holding_cost * float(self.waiting.sum())
        reward = sc.reward * float(delivered.sum()) - transport - holding
        info = {
            "t": self.t,
            "delivered": float(delivered.sum()),
            "transport_cost": transport,
            "holding_cost": holding,
            "action_scaled": scaled,
        }
        return self._observation(), reward, self.t >= self.T, False, info

    def in_network(self) -> float:
        return float(self.waiting.sum() + self.pipeline[self.t + 1 :].sum())

    def render(self):
        if self.render_mode == "ansi":
            return f"t={self.t} waiting={self.waiting.sum():.1f} in_transit={self.pipeline[self.t + 1 :].sum():.1f}"
        return None
