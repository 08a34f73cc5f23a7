"""Single-product supply-chain inventory management (the reference study's SCIM, section 5.2, corrected)."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ...errors import ActionError, require_in_box
from .scenario import SupplyChainScenario, load_named

FORECAST = 4  # demand columns in the observation (realised within advance_info, expected beyond)
PIPELINE = 3  # arrival columns in the observation (t, t+1, t+2)
NUM_FEATURES = 1 + PIPELINE + 2 + 2 * FORECAST + 6 + 2
FEATURE_POSITION = 1 + PIPELINE  # column of the inventory position
FEATURE_FACTORY = NUM_FEATURES - 6  # column of the "is a factory" flag
FEATURE_BASE_STOCK = NUM_FEATURES - 2  # column of the base-stock policy's position after the step (Dirichlet prior)
FEATURE_BASE_PRODUCTION = NUM_FEATURES - 1  # column of its production, in the LP's units (Gaussian prior)


@dataclass
class SupplyState:
    """What a lower level needs at step ``t`` (before the action)."""

    t: int
    available: np.ndarray
    """(N,) on-hand stock after this step's arrivals (stores may be negative: backlog)."""
    position: np.ndarray
    """(N,) inventory position: available plus everything already on its way to the node."""
    demand_now: np.ndarray
    """(N,) demand of this step as the decision maker knows it (realised within ``advance_info``)."""


def _slack(bound: np.ndarray) -> np.ndarray:
    """``bound`` plus the rounding of a float32 action (a quantity above it breaks the bound)."""
    return bound + 1e-5 * np.abs(bound) + 1e-6


class SupplyChainEnv(gym.Env):
    """Factories produce, warehouses and stores hold, stores sell; the agent orders production and shipments.

    ## Description
    A directed network of factories, warehouses and stores (edges go downstream, each with a lead time and a
    per-unit cost). At each of ``T`` steps the agent sets production at every factory and a shipment on every
    edge; shipments leave from the source's on-hand stock and arrive ``lead_time`` steps later, production
    ``production_time`` steps later. Then stores meet their demand; what they cannot meet is backlogged
    (their stock goes negative) and served by later deliveries.

    Corrected with respect to the reference simulator: the reference checks each edge's shipment against the
    source's stock separately, so the shipments of one step can together exceed it and a factory's stock
    goes negative. Here the *total* outflow of a node is at most its on-hand stock; if the action asks for
    more, all its outflows are scaled down proportionally (``info['action_scaled']``).

    ``info['violations']`` counts the constraints the action broke this step (the environment then enforces
    them): factories asked to produce above their capacity, links asked to carry more than their capacity, and
    nodes asked to ship more than they hold (beyond a float32 action's rounding: ``1e-5`` relative, ``1e-6`` units).

    ## Observation Space
    ``Dict`` of fixed-shape arrays: ``x`` (N, 15), ``edge_index`` (2, E), ``edge_attr`` (E, 3). Node
    features (quantities divided by the mean demand of a store per step): stock at the end of the last step;
    arrivals (shipments + production) at ``t``, ``t+1``, ``t+2``; inventory position (stock plus everything on
    its way); demand at ``t .. t+3`` (realised within ``advance_info`` steps, expected beyond); storage
    capacity; storage cost / price; one-hot kind (factory, warehouse, store); fraction of the episode
    elapsed; and what the textbook echelon base-stock policy (:meth:`base_stock`, no safety stock, no tuning)
    would do now: each node's inventory position after its shipments and production, and each factory's
    production in units of the mean total demand per step (0 elsewhere). The bi-level agent uses these two
    columns as the prior of its Dirichlet and Gaussian heads and learns a residual on them. Edge features:
    lead time, unit cost / price, capacity (scaled, capped at 10).

    ## Action Space
    ``Box(0, high, (F + E,))``: production of each factory (in node order), then the shipment on each edge;
    ``high`` is :meth:`~.scenario.SupplyChainScenario.max_quantity`.

    ## Rewards
    ``price * demand - transport - storage * max(stock, 0) - production - backlog_penalty * max(-stock, 0)
    - overcapacity_penalty * max(stock - capacity, 0)`` (the reference's reward: revenue is counted on all
    demand, served now or backlogged), after which stock above capacity is discarded.

    With stochastic lead times (the scenario's ``lead_time_noise``), a shipment's lead time is drawn at ``reset``
    for every step and edge (:attr:`shipment_lead`); the observation's arrivals show where shipped goods will
    arrive, the edge features keep the link's nominal lead time.

    ## Starting State
    Every node holds its ``initial_stock`` (0 in the reference configurations); nothing in transit. Demand of
    the whole episode is drawn at ``reset`` from ``self.np_random``.

    ## Episode End
    Terminates after ``T`` steps (30 for the reference configurations; the reference's test loop runs 31).

    ## Arguments
    * ``scenario``: a :class:`SupplyChainScenario` or a name (``1f2s``, ``1f3s``, ``1f10s``, ``1f3w30s``).

    ## Version History
    * v0: first version.

    >>> env = SupplyChainEnv("1f2s")
    >>> obs, info = env.reset(seed=0)
    >>> obs["x"].shape, env.action_space.shape
    ((3, 22), (3,))
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 -- Gymnasium's Env declares it a plain class attribute

    def __init__(self, scenario: SupplyChainScenario | str = "1f2s", *, render_mode: str | None = None) -> None:
        self.scenario = sc = load_named(scenario) if isinstance(scenario, str) else scenario
        self.render_mode = render_mode
        net = sc.network
        self.N, self.E, self.T = net.num_nodes, net.num_edges, sc.steps
        self.src, self.dst = net.sources, net.targets
        self.lead = net.edge_attr["lead_time"].astype(np.int64)
        self.edge_cap = net.edge_attr["capacity"]
        self.factories = sc.factories
        self.F = len(self.factories)
        self.horizon = self.T + FORECAST + 1
        self._buffer = self.T + int(max(self.lead.max() + sc.lead_time_noise, sc.production_time.max())) + PIPELINE + 2
        mean_store = sc.expected_demand(0, 15)[:, sc.stores].mean()
        self.scale = float(max(mean_store, 1.0))
        self.action_space = spaces.Box(0.0, sc.max_quantity(), (self.F + self.E,), np.float32)
        self.observation_space = spaces.Dict(
            {
                "x": spaces.Box(-np.inf, np.inf, (self.N, NUM_FEATURES), np.float32),
                "edge_index": spaces.Box(0, self.N - 1, (2, self.E), np.int64),
                "edge_attr": spaces.Box(0.0, np.inf, (self.E, 3), np.float32),
            }
        )
        self._edge_index = net.edge_index.astype(np.int64)
        self._edge_attr = np.stack(
            [self.lead, net.edge_attr["cost"] / sc.price, np.minimum(self.edge_cap / self.scale, 10.0)], axis=1
        ).astype(np.float32)
        onehot = np.eye(3)[sc.kind]
        self._protect, self._offset, self._echelon = sc.echelons()
        self._indeg = np.maximum(np.bincount(self.dst, minlength=self.N), 1)
        self.production_scale = sc.production_scale()
        self._static = np.column_stack([sc.capacity / self.scale, sc.storage_cost / sc.price, onehot])
        self.t = 0
        self.stock = sc.initial_stock.astype(np.float64).copy()
        self.arrivals = np.zeros((self._buffer, self.N))
        self.demand = np.zeros((self.horizon, self.N))
        self.shipment_lead = np.broadcast_to(self.lead, (self.T, self.E))
        """(T, E) lead time of a shipment sent at step ``t`` on edge ``e`` (drawn at ``reset`` when the scenario's
        ``lead_time_noise`` > 0)."""

    # ------------------------------------------------------------------ state
    def planning_lead(self, t0: int, steps: int, foresight: bool) -> np.ndarray:
        """(steps, E) lead times of shipments sent at ``t0..``: the realised ones (``foresight``) or what the
        controller expects (the link's lead time plus the scenario's ``expected_delay``)."""
        if foresight:
            return np.asarray(self.shipment_lead[t0 : t0 + steps])
        return np.broadcast_to(self.lead + self.scenario.expected_delay, (steps, self.E))

    def known_demand(self, t0: int, horizon: int) -> np.ndarray:
        """(horizon, N) demand of ``t0..`` as the agent knows it: realised within ``advance_info``, else expected."""
        exp = self.scenario.expected_demand(t0, horizon)
        k = min(self.scenario.advance_info, horizon)
        if k > 0:
            rows = self.demand[t0 : t0 + k]
            exp[: rows.shape[0]] = rows
        return exp

    def available(self) -> np.ndarray:
        return self.stock + self.arrivals[self.t]

    def position(self) -> np.ndarray:
        return self.stock + self.arrivals[self.t :].sum(axis=0)

    def flow_state(self) -> SupplyState:
        return SupplyState(self.t, self.available(), self.position(), self.known_demand(self.t, 1)[0])

    def base_stock(
        self, safety: np.ndarray | float = 0.0, dynamic: bool = True, horizon_aware: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Production (F,) and shipments (E,) of the echelon order-up-to (base-stock) policy at this step.

        Node ``n`` raises its *echelon* inventory position (stock and everything on its way, of the node and
        of every node downstream of it) to ``level_n = demand of its stores over t .. t+L_n + safety_n``, where
        ``L_n`` is the lead time from the moment ``n`` orders (or produces) until the goods reach its stores;
        demand is what the agent knows (realised within ``advance_info``, expected beyond). ``dynamic=False``
        gives the textbook constant levels ``safety_n``; ``horizon_aware`` counts no demand after the last
        step of the episode (the textbook policy, without it, keeps ordering for demand it will never see).
        Orders go to the node's suppliers (split evenly); a short supplier ships in proportion to the orders;
        factories produce up to their level.
        """
        sc, t = self.scenario, self.t
        level = np.broadcast_to(np.asarray(safety, dtype=np.float64), (self.N,))
        if dynamic:
            span = self._offset + self._protect  # steps of demand each level covers
            known = self.known_demand(t, int(span.max()))  # (H, N): stores' demand
            if horizon_aware:
                known[max(self.T - t, 0) :] = 0.0
            cum = np.vstack([np.zeros(self.N), np.cumsum(known @ self._echelon.T, axis=0)])  # per echelon
            level = cum[span, np.arange(self.N)] + level
        avail = np.maximum(self.available(), 0.0)
        want = np.maximum(level - self._echelon @ self.position(), 0.0)  # what each node would like to receive
        order = want[self.dst] / self._indeg[self.dst]  # split over suppliers
        asked = np.bincount(self.src, weights=order, minlength=self.N)
        ratio = np.where(asked > avail, avail / np.maximum(asked, 1e-12), 1.0)
        ship = order * ratio[self.src]
        prod = np.minimum(want[self.factories], sc.production_capacity[self.factories])
        return prod, ship

    def _observation(self) -> dict[str, np.ndarray]:
        s, t = self.scale, self.t
        pos = self.position()
        known = self.known_demand(t, FORECAST)
        known[max(self.T - t, 0) :] = 0.0  # no demand after the episode's last step
        prod, ship = self.base_stock()
        after = (
            pos
            + np.bincount(self.dst, weights=ship, minlength=self.N)
            - np.bincount(self.src, weights=ship, minlength=self.N)
        )
        after[self.factories] += prod
        base_prod = np.zeros(self.N)
        base_prod[self.factories] = prod / self.production_scale
        x = np.column_stack(
            [
                self.stock / s,
                self.arrivals[t : t + PIPELINE].T / s,
                pos / s,
                self._echelon @ pos / s,
                known.T / s,
                self._echelon @ known.T / s,
                self._static,
                np.full(self.N, t / self.T),
                np.maximum(after, 0.0) / s,
                base_prod,
            ]
        )
        return {"x": x.astype(np.float32), "edge_index": self._edge_index.copy(), "edge_attr": self._edge_attr.copy()}

    # ------------------------------------------------------------------ dynamics
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        sc = self.scenario
        if options and "demand" in options:
            d = np.asarray(options["demand"], dtype=np.float64)
            if d.shape != (self.horizon, self.N) or not np.all(np.isfinite(d)) or (d < 0).any():
                raise ValueError(
                    f"Expected options['demand'] non-negative with shape {(self.horizon, self.N)} (got {d.shape})"
                )
            self.demand = d.copy()
        else:
            self.demand = sc.sample_demand(self.np_random, self.horizon, realised=True)
        if sc.lead_time_noise > 0:  # after the demand: a seed's demand does not depend on them (a given demand
            # draws nothing, so the lead times then differ from those of the same seed without it)
            self.shipment_lead = self.lead + self.np_random.integers(0, sc.lead_time_noise + 1, (self.T, self.E))
        self.t = 0
        self.stock = sc.initial_stock.astype(np.float64).copy()
        self.arrivals = np.zeros((self._buffer, self.N))
        return self._observation(), {"t": 0}

    def split_action(self, action) -> tuple[np.ndarray, np.ndarray]:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self.F + self.E,):
            raise ActionError(
                f"Expected an action of shape ({self.F + self.E},) = production (F) + shipments (E) (got {a.shape})"
            )
        if not np.all(np.isfinite(a)):
            raise ActionError(f"Expected finite production and shipments (got {int((~np.isfinite(a)).sum())} NaN/inf)")
        if (a < -1e-6).any():
            k = int(np.argmin(a))
            what = f"production of factory {k}" if k < self.F else f"shipment on edge {k - self.F}"
            raise ActionError(f"Expected non-negative quantities (got {a[k]:.4g} for the {what})")
        require_in_box("production and shipments", a, self.action_space.low, self.action_space.high)
        a = np.maximum(a, 0.0)
        return a[: self.F], a[self.F :]

    def step(self, action):
        prod, ship = self.split_action(action)
        if self.t >= self.T:
            raise RuntimeError("step() called after the episode terminated; call reset()")
        sc, t = self.scenario, self.t
        prod_cap = sc.production_capacity[self.factories]
        violations = int((prod > _slack(prod_cap)).sum() + (ship > _slack(self.edge_cap)).sum())
        prod = np.minimum(prod, prod_cap)
        ship = np.minimum(ship, self.edge_cap)
        avail = self.available()
        out = np.bincount(self.src, weights=ship, minlength=self.N)
        room = np.maximum(avail, 0.0)
        violations += int((out > _slack(room)).sum())
        scaled = bool((out > room + 1e-9).any())
        if scaled:  # the correct, cumulative check: a node never ships more than it holds
            factor = np.where(out > room, room / np.maximum(out, 1e-12), 1.0)
            ship = ship * factor[self.src]
            out = np.bincount(self.src, weights=ship, minlength=self.N)
        np.add.at(self.arrivals, (t + self.shipment_lead[t], self.dst), ship)
        np.add.at(self.arrivals, (t + sc.production_time[self.factories], self.factories), prod)
        demand = self.demand[t]
        stock = avail - out - demand
        revenue = sc.price * demand.sum()
        transport = float(ship @ sc.network.edge_attr["cost"])
        storage = float(np.maximum(stock, 0.0) @ sc.storage_cost)
        production = float(prod @ sc.production_cost[self.factories])
        backlog = sc.backlog_penalty * float(np.maximum(-stock, 0.0).sum())
        over = sc.overcapacity_penalty * float(np.maximum(stock - sc.capacity, 0.0).sum())
        reward = revenue - transport - storage - production - backlog - over
        self.stock = np.minimum(stock, sc.capacity)
        self.t = t + 1
        info = {
            "t": self.t,
            "revenue": revenue,
            "transport_cost": transport,
            "storage_cost": storage,
            "production_cost": production,
            "backlog_cost": backlog,
            "overcapacity_cost": over,
            "demand": float(demand.sum()),
            "produced": float(prod.sum()),
            "action_scaled": scaled,
            "violations": violations,
        }
        return self._observation(), float(reward), self.t >= self.T, False, info

    def render(self):
        if self.render_mode == "ansi":
            return f"t={self.t} stock={np.round(self.stock, 1).tolist()}"
        return None
