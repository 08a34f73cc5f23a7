"""Supply-chain scenarios: single-product inventory networks, from a validated JSON file or a generator.

Format (JSON; every number is checked and every error names the field)::

    {
      "name": "1f2s",
      "steps": 30,                       # control steps per episode
      "price": 15.0,                     # revenue per unit of demand (served now or backlogged)
      "backlog_penalty": 22.5,           # per unit of negative stock per step (default 1.5 * price)
      "overcapacity_penalty": 22.5,      # per unit above a node's storage capacity (default 1.5 * price)
      "advance_info": 3,                 # demand is known this many steps ahead (0: only forecasts)
      "demand_scale": 1.0,               # realised demand / the demand model's (controllers plan on the model)
      "demand_delay": 0,                 # steps the realised demand's cycle lags the model's (a later peak)
      "demand_scale_spread": 0.0,        # the scale drawn per episode from demand_scale +- this (uncertain volume)
      "lead_time_noise": 0,              # a shipment takes lead_time + U{0..lead_time_noise} steps
      "nodes": [
        {"id": "F", "kind": "factory", "capacity": 20, "storage_cost": 3,
         "production_cost": 5, "production_time": 1, "production_capacity": null},
        {"id": "W1", "kind": "warehouse", "capacity": 50, "storage_cost": 1},
        {"id": "S1", "kind": "store", "capacity": 9, "storage_cost": 2,
         "demand": {"mean": 1, "amplitude": 1, "period": 15, "shift": 2, "noise": 2}}
      ],
      "edges": [{"from": "F", "to": "S1", "lead_time": 1, "cost": 0.3, "capacity": 1000}]
    }

Demand of a store at step ``t``: ``round(mean + amplitude * cos(2 pi (t + shift) / period) + U{0..noise})``,
at least 0. The reference study's stores (``dmax``, ``dvar``, store position ``j``) are ``mean = amplitude =
dmax/2``, ``period = 15``, ``shift = 2j``, ``noise = dvar`` (its ``cos(4 pi (2j + t) / 30)``).

``advance_info`` makes explicit what the reference study's features do implicitly: its agent sees the realised
demand of the next three steps (noise included), i.e. orders are known three steps before they are due.

``demand_scale`` and ``demand_delay`` shift the *realised* demand away from the model that every forecast (the
observation's expected demand, the forecast and sample-average MPCs) is computed from: the realised demand is
``round(demand_scale * (mean + amplitude * cos(2 pi (t - demand_delay + shift) / period) + U{0..noise}))``. They
test a controller built for the nominal demand under shifted demand, without retraining.
``demand_scale_spread = w > 0`` draws the realised demand's scale per episode from ``U[demand_scale - w,
demand_scale + w]`` (at ``reset``, before the demand; unseen by the controllers, whose forecasts keep the model):
a volume the operator is unsure of, to train a controller that copes with shifted demand.

**Stochastic lead times.** With ``lead_time_noise = k > 0`` a shipment sent on a link at step ``t`` arrives after
the link's ``lead_time`` plus a delay drawn from ``U{0..k}``, one draw per step and link, at ``reset`` (after the
demand, so the demand of a seed does not change). Once shipped, a shipment's arrival step is known (it is in
the observation's arrivals, as a carrier's tracking gives it); the delays of later shipments are not.

**Changes at deployment.** The settings ``link_capacity``, ``link_cost``, ``node_capacity`` and ``production_capacity``
change single links
(named ``"FROM->TO"`` by node ids; capacity 0 closes a link) and nodes of a network, e.g.
``--set 'link_capacity={"F->S8": 12}'``: the network as it is today, for a controller built on the network as it
was (the bi-level agent's lower level enforces today's capacities; the environment clamps any shipment above a
link's capacity and counts it in ``info['violations']``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import GraphError, ScenarioError
from ...files import as_number, read_json, shown
from ...graph import FlowNetwork

KINDS = ("factory", "warehouse", "store")


@dataclass(frozen=True, eq=False)
class SupplyChainScenario:
    """A validated inventory network as arrays. ``N`` nodes, ``E`` edges, ``F`` factories, ``K`` stores."""

    name: str
    network: FlowNetwork
    """nodes and edges; ``edge_attr``: ``lead_time``, ``cost``, ``capacity``."""
    kind: np.ndarray
    """(N,) 0 factory, 1 warehouse, 2 store."""
    capacity: np.ndarray
    """(N,) storage capacity."""
    storage_cost: np.ndarray
    """(N,) cost per unit in stock per step."""
    production_cost: np.ndarray
    """(N,) cost per unit produced (0 for non-factories)."""
    production_time: np.ndarray
    """(N,) production lead time in steps (factories)."""
    production_capacity: np.ndarray
    """(N,) maximum production per step (inf where unlimited, 0 for non-factories)."""
    demand_params: np.ndarray
    """(N, 5): mean, amplitude, period, shift, noise (zeros for non-stores)."""
    initial_stock: np.ndarray
    """(N,)"""
    steps: int
    price: float
    backlog_penalty: float
    overcapacity_penalty: float
    advance_info: int
    demand_scale: float = 1.0
    """realised demand / the model's (the forecasts keep the model)."""
    demand_delay: int = 0
    """steps the realised demand's seasonal cycle lags the model's."""
    demand_scale_spread: float = 0.0
    """the realised demand's scale is drawn per episode from ``U[demand_scale -+ demand_scale_spread]``."""
    lead_time_noise: int = 0
    """a shipment's lead time is its link's ``lead_time`` plus ``U{0..lead_time_noise}`` (0: fixed lead times)."""
    meta: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return self.network.num_nodes

    @property
    def factories(self) -> np.ndarray:
        return np.flatnonzero(self.kind == 0)

    @property
    def stores(self) -> np.ndarray:
        return np.flatnonzero(self.kind == 2)

    @property
    def expected_delay(self) -> int:
        """The delay a planner adds to every link's lead time: the mean of ``U{0..lead_time_noise}``, rounded up."""
        return (self.lead_time_noise + 1) // 2

    def echelons(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per node: protection interval (inbound lead time, or production time, + 1), lead time from the node
        down to its stores, and the echelon matrix (``ech[n, m] = 1`` when ``m`` is ``n`` or downstream of it).
        A node supplied over several edges is protected over the longest of their lead times (each plus the
        :attr:`expected_delay`)."""
        net = self.network
        N = self.num_nodes
        lead_in = np.ones(N, dtype=np.int64)
        np.maximum.at(lead_in, net.targets, net.edge_attr["lead_time"].astype(np.int64) + self.expected_delay)
        protect = np.where(self.kind == 0, self.production_time, lead_in) + 1
        ech = np.eye(N)
        offset = np.zeros(N, dtype=np.int64)
        order = np.argsort(-self.kind, kind="stable")  # stores, warehouses, factories: children first
        for _ in range(N):  # propagate up the tree until nothing changes (depth <= N)
            changed = False
            for n in order:
                kids = net.targets[net.sources == n]
                if len(kids):
                    new = np.minimum(ech[kids].sum(axis=0) + np.eye(N)[n], 1.0)
                    off = int(np.max(offset[kids] + lead_in[kids]))
                    if not np.array_equal(new, ech[n]) or off != offset[n]:
                        ech[n], offset[n], changed = new, off, True
            if not changed:
                break
        return protect, offset, ech

    def production_scale(self) -> float:
        """Units of the bi-level agent's production action: the mean total demand per step (at least 1)."""
        return float(max(self.expected_demand(0, 15).sum(axis=1).mean(), 1.0))

    def max_quantity(self) -> float:
        """The largest production or shipment of one step that the environment accepts (its action ``Box``'s
        bound): ten times the network's storage plus the whole episode's expected demand, and at least 10,000."""
        return float(max(1e4, 10.0 * (self.capacity.sum() + self.expected_demand(0, self.steps).sum())))

    def expected_demand(self, t0: int, horizon: int) -> np.ndarray:
        """(horizon, N) expected demand of steps ``t0 .. t0+horizon-1`` (mean of the noise included)."""
        t = np.arange(t0, t0 + horizon)[:, None]
        m, a, p, s, noise = self.demand_params.T
        period = np.where(p > 0, p, 1.0)
        d = m + a * np.cos(2 * np.pi * (t + s) / period) + noise / 2.0
        return np.where(self.kind == 2, np.maximum(d, 0.0), 0.0)

    def sample_demand(self, rng: np.random.Generator, horizon: int, t0: int = 0, realised: bool = False) -> np.ndarray:
        """(horizon, N) demand of steps ``t0 ..`` drawn from the model: the reference's rounded cosine plus uniform
        integer noise; ``realised``: with the scenario's ``demand_scale`` and ``demand_delay`` (the environment's
        demand; with ``demand_scale_spread`` > 0 the scale is drawn from ``rng`` first)."""
        t = np.arange(t0, t0 + horizon)[:, None] - (self.demand_delay if realised else 0)
        scale = self.demand_scale if realised else 1.0
        if realised and self.demand_scale_spread > 0:
            scale += rng.uniform(-self.demand_scale_spread, self.demand_scale_spread)
        m, a, p, s, noise = self.demand_params.T
        period = np.where(p > 0, p, 1.0)
        u = rng.integers(0, noise.astype(np.int64) + 1, size=(horizon, self.num_nodes))
        d = np.round(scale * (m + a * np.cos(2 * np.pi * (t + s) / period) + u))
        return np.where(self.kind == 2, np.maximum(d, 0.0), 0.0)

    def __repr__(self) -> str:
        return (
            f"SupplyChainScenario({self.name!r}, factories={len(self.factories)}, "
            f"warehouses={int((self.kind == 1).sum())}, stores={len(self.stores)}, edges={self.network.num_edges})"
        )


# ---------------------------------------------------------------------------------------------- validation
#: upper bounds of the values that set array lengths (steps, lead and production times, advance information)
MAX_STEPS = 100_000
MAX_LEAD_TIME = 1_000
#: the largest magnitude of any other number (units, costs, prices, capacities): far above any real network's,
#: and low enough that the environment's bounds and rewards stay finite (an infinite production capacity is
#: written as ``Infinity``)
MAX_QUANTITY = 1e12
MAX_DEMAND_SCALE = 10.0


def _num(
    value: Any,
    where: str,
    *,
    minimum: float | None = 0.0,
    integer: bool = False,
    allow_none: bool = False,
    allow_inf: bool = False,
    maximum: float | None = None,
):
    if value is None and allow_none:
        return None
    if as_number(value) is None:
        raise ScenarioError(f"Expected '{where}' to be a number (got {shown(value)})")
    if not np.isfinite(value) and not (allow_inf and value == np.inf):
        raise ScenarioError(f"Expected '{where}' to be finite (got {value!r})")
    if integer and float(value) != int(value):
        raise ScenarioError(f"Expected '{where}' to be an integer (got {value!r})")
    if minimum is not None and value < minimum:
        raise ScenarioError(f"Expected '{where}' >= {minimum:g} (got {value!r})")
    if maximum is None and not (allow_inf and value == np.inf):
        maximum = MAX_QUANTITY
    if maximum is not None and value > maximum:
        raise ScenarioError(f"Expected '{where}' <= {maximum:g} (got {value!r})")
    if minimum is None and value < -MAX_QUANTITY:
        raise ScenarioError(f"Expected '{where}' >= {-MAX_QUANTITY:g} (got {value!r})")
    return value


def _find_cycle(succ: dict[int, list[int]]) -> list[int] | None:
    """A directed cycle of the graph ``succ`` (node -> successors) as a node list ``[a, b, ..., a]``, or ``None``
    (iterative depth-first search: any size is safe)."""
    state = dict.fromkeys(succ, 0)  # 0 unseen, 1 on the current path, 2 done
    for root in succ:
        if state[root]:
            continue
        path, stack = [root], [iter(succ[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state[nxt] == 1:
                return path[path.index(nxt) :] + [nxt]
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(succ[nxt]))
    return None


def scenario_from_dict(data: dict, *, name: str | None = None) -> SupplyChainScenario:
    """Validate a parsed scenario and build a :class:`SupplyChainScenario`."""
    if not isinstance(data, dict):
        raise ScenarioError(f"Expected the scenario to be a JSON object (got {type(data).__name__})")
    for key in ("nodes", "edges"):
        if key not in data:
            raise ScenarioError(f"missing key '{key}'")
        if not isinstance(data[key], list) or not data[key]:
            raise ScenarioError(f"Expected '{key}' to be a non-empty list")
    price = float(_num(data.get("price", 15.0), "price"))
    if not price > 0:
        raise ScenarioError(f"Expected 'price' > 0 (got {price:g}): rewards and observations are in units of it")
    steps = int(_num(data.get("steps", 30), "steps", minimum=1, integer=True, maximum=MAX_STEPS))
    nodes = data["nodes"]
    ids, pos = [], {}
    N = len(nodes)
    kind = np.zeros(N, dtype=np.int64)
    cap, hold, pcost, ptime, pcap, init = (np.zeros(N) for _ in range(6))
    dem = np.zeros((N, 5))
    for k, nd in enumerate(nodes):
        w = f"nodes[{k}]"
        if not isinstance(nd, dict):
            raise ScenarioError(f"Expected '{w}' to be an object (got {shown(nd)})")
        for f in ("id", "kind", "capacity", "storage_cost"):
            if f not in nd:
                raise ScenarioError(f"'{w}' is missing field '{f}'")
        nid = nd["id"]
        if not isinstance(nid, (str, int)) or isinstance(nid, bool):
            raise ScenarioError(f"Expected '{w}.id' to be a string or an integer (got {shown(nid)})")
        if nid in pos:
            raise ScenarioError(f"'{w}.id' = {nid!r} is used twice")
        pos[nid] = k
        ids.append(nid)
        if not isinstance(nd["kind"], str) or nd["kind"] not in KINDS:
            raise ScenarioError(f"Expected '{w}.kind' in {KINDS} (got {shown(nd['kind'])})")
        kind[k] = KINDS.index(nd["kind"])
        cap[k] = _num(nd["capacity"], f"{w}.capacity")
        hold[k] = _num(nd["storage_cost"], f"{w}.storage_cost")
        init[k] = _num(nd.get("initial_stock", 0), f"{w}.initial_stock")
        if init[k] > cap[k]:
            raise ScenarioError(f"'{w}.initial_stock' ({init[k]:g}) exceeds its capacity ({cap[k]:g})")
        if kind[k] == 0:
            pcost[k] = _num(nd.get("production_cost", 0.0), f"{w}.production_cost")
            ptime[k] = _num(
                nd.get("production_time", 1), f"{w}.production_time", minimum=1, integer=True, maximum=MAX_LEAD_TIME
            )
            pc = _num(nd.get("production_capacity"), f"{w}.production_capacity", allow_none=True, allow_inf=True)
            pcap[k] = np.inf if pc is None else pc
        if kind[k] == 2:
            d = nd.get("demand")
            if not isinstance(d, dict):
                raise ScenarioError(f"'{w}' is a store: expected '{w}.demand' to be an object (got {shown(d)})")
            for j, f in enumerate(("mean", "amplitude", "period", "shift", "noise")):
                if f not in d:
                    raise ScenarioError(f"'{w}.demand' is missing field '{f}'")
                dem[k, j] = _num(d[f], f"{w}.demand.{f}", minimum=None if f == "shift" else 0.0, integer=f == "noise")
            if dem[k, 2] <= 0:
                raise ScenarioError(f"Expected '{w}.demand.period' > 0 (got {dem[k, 2]:g})")
    if not (kind == 0).any():
        raise ScenarioError("'nodes' has no factory: nothing can ever be produced")
    if not (kind == 2).any():
        raise ScenarioError("'nodes' has no store: there is no demand")
    src, dst, lt, ec, ecap = [], [], [], [], []
    for k, e in enumerate(data["edges"]):
        w = f"edges[{k}]"
        if not isinstance(e, dict):
            raise ScenarioError(f"Expected '{w}' to be an object (got {shown(e)})")
        for f in ("from", "to"):
            if f not in e:
                raise ScenarioError(f"'{w}' is missing field '{f}'")
            if not isinstance(e[f], (str, int)) or isinstance(e[f], bool) or e[f] not in pos:
                raise ScenarioError(f"'{w}.{f}' = {shown(e[f])} is not a node id")
        u, v = pos[e["from"]], pos[e["to"]]
        if kind[v] == 0:
            raise ScenarioError(f"'{w}' ships into factory {e['to']!r}; edges go from factories downstream")
        if kind[u] == 2:
            raise ScenarioError(f"'{w}' ships out of store {e['from']!r}; stores only sell")
        src.append(u), dst.append(v)
        lt.append(_num(e.get("lead_time", 1), f"{w}.lead_time", minimum=1, integer=True, maximum=MAX_LEAD_TIME))
        ec.append(_num(e.get("cost", 0.0), f"{w}.cost"))
        ecap.append(_num(e.get("capacity", 1e9), f"{w}.capacity"))
    succ = {i: [] for i in range(N)}
    for u, v in zip(src, dst):
        succ[u].append(v)
    cycle = _find_cycle(succ)
    if cycle is not None:
        raise ScenarioError(
            f"'edges' form a cycle {' -> '.join(str(ids[i]) for i in cycle)}: goods must flow "
            "from factories down to stores, so the network must have no directed cycle"
        )
    try:
        network = FlowNetwork(
            N,
            [src, dst],
            edge_attr={"lead_time": lt, "cost": ec, "capacity": ecap},
            node_names=ids,
            require_connected="weak",
        )
    except GraphError as exc:
        raise ScenarioError(f"'edges': {exc}") from None
    # every store must be reachable from a factory
    reach = set(np.flatnonzero(kind == 0).tolist())
    frontier = list(reach)
    while frontier:
        u = frontier.pop()
        for v in succ[u]:
            if v not in reach:
                reach.add(v)
                frontier.append(v)
    orphan = [ids[i] for i in np.flatnonzero(kind == 2) if i not in reach]
    if orphan:
        raise ScenarioError(f"'edges': store(s) {orphan[:5]} cannot be reached from any factory")
    pen = 1.5 * price
    scale = float(_num(data.get("demand_scale", 1.0), "demand_scale", maximum=MAX_DEMAND_SCALE))
    return SupplyChainScenario(
        name=str(name or data.get("name", "supply_chain")),
        network=network,
        kind=kind,
        capacity=cap,
        storage_cost=hold,
        production_cost=pcost,
        production_time=ptime.astype(np.int64),
        production_capacity=pcap,
        demand_params=dem,
        initial_stock=init,
        steps=steps,
        price=price,
        backlog_penalty=float(_num(data.get("backlog_penalty", pen), "backlog_penalty")),
        overcapacity_penalty=float(_num(data.get("overcapacity_penalty", pen), "overcapacity_penalty")),
        advance_info=int(_num(data.get("advance_info", 3), "advance_info", integer=True, maximum=MAX_STEPS)),
        demand_scale=scale,
        lead_time_noise=int(
            _num(data.get("lead_time_noise", 0), "lead_time_noise", integer=True, maximum=MAX_LEAD_TIME)
        ),
        demand_delay=int(
            _num(data.get("demand_delay", 0), "demand_delay", minimum=-MAX_STEPS, integer=True, maximum=MAX_STEPS)
        ),
        # at most demand_scale: a drawn scale is never negative
        demand_scale_spread=float(_num(data.get("demand_scale_spread", 0.0), "demand_scale_spread", maximum=scale)),
        meta={"ids": ids},
    )


@dataclass(frozen=True)
class SupplySettings:
    """Changes to a scenario's top-level parameters (``None``: keep the scenario's own value)."""

    steps: int | None = None
    """control steps per episode."""
    price: float | None = None
    """revenue per unit of demand."""
    backlog_penalty: float | None = None
    """per unit of negative stock per step."""
    overcapacity_penalty: float | None = None
    """per unit above a node's storage capacity."""
    advance_info: int | None = None
    """steps of advance demand information (0: forecasts only)."""
    demand_scale: float | None = None
    """realised demand / the demand model's (the forecasts keep the model): a shifted-demand test."""
    demand_delay: int | None = None
    """steps the realised demand's seasonal cycle lags the model's (a later peak)."""
    demand_scale_spread: float | None = None
    """the realised demand's scale drawn per episode from ``demand_scale`` +- this: training for uncertain volume."""
    lead_time_noise: int | None = None
    """a shipment's lead time is its link's plus ``U{0..lead_time_noise}`` steps (stochastic lead times)."""
    link_capacity: dict[str, float] | None = None
    """per-step capacity of some links, ``{"FROM->TO": units}`` by node ids (0 closes the link): a change at
    deployment (see "Changes at deployment" in the module docstring)."""
    link_cost: dict[str, float] | None = None
    """per-unit transport cost of some links, ``{"FROM->TO": cost}``."""
    node_capacity: dict[str, float] | None = None
    """storage capacity of some nodes, ``{"ID": units}`` (their initial stock is cut to it where above)."""
    production_capacity: dict[str, float] | None = None
    """production per step of some factories, ``{"ID": units}``."""

    def apply(self, data: dict) -> dict:
        """``data`` (a scenario dict) with these changes; a link or node that is not in it is an error naming the
        setting and the key."""
        changes = {k: v for k, v in self.__dict__.items() if v is not None and k not in _ELEMENT_SETTINGS}
        out = {**data, **changes}
        if not any(getattr(self, k) for k in _ELEMENT_SETTINGS):
            return out
        nodes, edges = data.get("nodes"), data.get("edges")
        if not isinstance(nodes, list) or not isinstance(edges, list):
            return out  # the scenario's own validation names what is wrong with it
        out["nodes"] = nodes = [dict(n) if isinstance(n, dict) else n for n in nodes]
        out["edges"] = edges = [dict(e) if isinstance(e, dict) else e for e in edges]
        by_id = {str(n.get("id")): n for n in nodes if isinstance(n, dict)}
        links = {f"{e.get('from')}->{e.get('to')}": e for e in edges if isinstance(e, dict)}
        for setting, table, field_ in (
            ("link_capacity", links, "capacity"),
            ("link_cost", links, "cost"),
            ("node_capacity", by_id, "capacity"),
            ("production_capacity", by_id, "production_capacity"),
        ):
            for key, value in (getattr(self, setting) or {}).items():
                if str(key) not in table:
                    what = "link" if table is links else "node"
                    example = next(iter(table), "")
                    raise ScenarioError(
                        f"'{setting}': no {what} {shown(key)} in the network ({what}s are named like {example!r})"
                    )
                item = table[str(key)]
                if setting == "production_capacity" and item.get("kind") != "factory":
                    raise ScenarioError(f"'{setting}': node {shown(key)} is not a factory")
                item[field_] = v = _num(value, f"{setting}.{key}")
                if setting == "node_capacity" and as_number(item.get("initial_stock", 0)) is not None:
                    item["initial_stock"] = min(item.get("initial_stock", 0), v)
        return out


#: the :class:`SupplySettings` that change single links or nodes rather than a top-level parameter
_ELEMENT_SETTINGS = ("link_capacity", "link_cost", "node_capacity", "production_capacity")


def load_scenario(path: str | Path, settings: SupplySettings | None = None) -> SupplyChainScenario:
    """Load and validate a scenario JSON file (with ``settings``' changes to its top-level parameters)."""
    path = Path(path)
    data = read_json(path, what="scenario file")
    name = data.get("name", path.stem) if isinstance(data, dict) else path.stem
    if settings is not None and isinstance(data, dict):
        data = settings.apply(data)
    try:
        return scenario_from_dict(data, name=name)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


# ---------------------------------------------------------------------------------------------- generators
def reference_dict(
    dmax: list[float],
    dvar: list[int],
    capacity: list[float],
    storage_cost: list[float],
    edge_cost: list[float],
    name: str,
) -> dict:
    """A one-factory, K-store network in the reference study's parameterisation (factory first)."""
    K = len(dmax)
    nodes = [
        {
            "id": "F",
            "kind": "factory",
            "capacity": capacity[0],
            "storage_cost": storage_cost[0],
            "production_cost": 5.0,
            "production_time": 1,
            "production_capacity": None,
        }
    ]
    for j in range(1, K + 1):
        nodes.append(
            {
                "id": f"S{j}",
                "kind": "store",
                "capacity": capacity[j],
                "storage_cost": storage_cost[j],
                "demand": {
                    "mean": dmax[j - 1] / 2,
                    "amplitude": dmax[j - 1] / 2,
                    "period": 15.0,
                    "shift": 2.0 * j,
                    "noise": int(dvar[j - 1]),
                },
            }
        )
    edges = [
        {"from": "F", "to": f"S{j}", "lead_time": 1, "cost": edge_cost[j - 1], "capacity": 1000}
        for j in range(1, K + 1)
    ]
    return {"name": name, "steps": 30, "price": 15.0, "advance_info": 3, "nodes": nodes, "edges": edges}


#: the reference study's three configurations (digest section 2(b))
REFERENCE = {
    "1f2s": reference_dict([2, 16], [2, 2], [20, 9, 12], [3, 2, 1], [0.3, 0.6], "1f2s"),
    "1f3s": reference_dict([1, 5, 24], [2, 2, 2], [30, 15, 15, 15], [2, 1, 1, 1], [0.3] * 3, "1f3s"),
    "1f10s": reference_dict(
        [2] * 4 + [10] * 3 + [18] * 3, [2] * 10, [100] + [15] * 10, [1] + [2] * 10, [0.3] * 10, "1f10s"
    ),
}


def multi_echelon_dict(
    warehouses: int = 3, stores_per_warehouse: int = 10, *, seed: int = 0, name: str | None = None
) -> dict:
    """Factory -> warehouses -> stores, with store demands, costs and capacities drawn from ``seed``.

    Warehouses hold stock cheaply; stores hold little and sell; the factory can produce 1.5x the expected
    total demand per step, so production has to be planned ahead of the peaks. Stores and warehouses start
    with two steps of their mean demand in stock (a network that starts empty spends its first three steps,
    the time goods need to reach a store, in backlog).
    """
    rng = np.random.default_rng(seed)
    K = warehouses * stores_per_warehouse
    dmax = rng.choice([2, 4, 6, 10, 18], size=K)
    total_mean = float(dmax.sum() / 2 + K)
    nodes = [
        {
            "id": "F",
            "kind": "factory",
            "capacity": float(np.ceil(2 * total_mean)),
            "storage_cost": 0.5,
            "production_cost": 5.0,
            "production_time": 1,
            "production_capacity": float(np.ceil(1.5 * total_mean)),
        }
    ]
    edges = []
    for w in range(warehouses):
        wid = f"W{w + 1}"
        kids = range(w * stores_per_warehouse, (w + 1) * stores_per_warehouse)
        sub_mean = float(sum(dmax[k] / 2 + 1 for k in kids))
        cap_w = float(np.ceil(3 * total_mean / warehouses))
        nodes.append(
            {
                "id": wid,
                "kind": "warehouse",
                "capacity": cap_w,
                "storage_cost": 0.5,
                "initial_stock": float(min(cap_w, np.ceil(2 * sub_mean))),
            }
        )
        edges.append({"from": "F", "to": wid, "lead_time": 1, "cost": 0.2, "capacity": 1e6})
        for k in kids:
            sid = f"S{k + 1}"
            cap_s = float(max(6, 2 * dmax[k]))
            nodes.append(
                {
                    "id": sid,
                    "kind": "store",
                    "capacity": cap_s,
                    "storage_cost": 1.0,
                    "initial_stock": float(min(cap_s, np.ceil(2 * (dmax[k] / 2 + 1)))),
                    "demand": {
                        "mean": dmax[k] / 2,
                        "amplitude": dmax[k] / 2,
                        "period": 15.0,
                        "shift": float(rng.integers(0, 15)),
                        "noise": 2,
                    },
                }
            )
            edges.append({"from": wid, "to": sid, "lead_time": 1, "cost": 0.3, "capacity": 1e6})
    return {
        "name": name or f"1f{warehouses}w{K}s",
        "steps": 30,
        "price": 15.0,
        "advance_info": 3,
        "nodes": nodes,
        "edges": edges,
    }


def load_named(name: str, settings: SupplySettings | None = None) -> SupplyChainScenario:
    """``1f2s``, ``1f3s``, ``1f10s`` (reference) or ``1f{W}w{K}s`` (generated multi-echelon, seed 0), each also
    as ``<name>-forecast`` (demand forecasts only: ``advance_info = 0``) and ``<name>[-forecast]-lead`` (stochastic
    lead times: ``lead_time_noise = 1``), with ``settings``' changes."""
    key = name.lower()
    settings = settings or SupplySettings()
    base = key.removesuffix(LEAD_SUFFIX)
    lead = base != key
    forecast = base.endswith(FORECAST_SUFFIX)
    base = base.removesuffix(FORECAST_SUFFIX)
    data = None
    if base in REFERENCE:
        data = dict(REFERENCE[base])
    else:
        import re

        m = re.fullmatch(r"1f(\d+)w(\d+)s", base)
        if m and int(m.group(2)) % int(m.group(1)) == 0:
            w, k = int(m.group(1)), int(m.group(2))
            data = multi_echelon_dict(w, k // w, name=key)
    if data is None:
        raise ScenarioError(
            f"Unknown supply-chain scenario {name!r}; choose 1f2s, 1f3s, 1f10s, 1f<W>w<K>s (each also with "
            f"'{FORECAST_SUFFIX}', '{LEAD_SUFFIX}' or '{FORECAST_SUFFIX}{LEAD_SUFFIX}') or a JSON file"
        )
    if forecast:
        data["advance_info"] = 0
    if lead:
        data["lead_time_noise"] = LEAD_NOISE
    return scenario_from_dict(settings.apply(data), name=key)


FORECAST_SUFFIX = "-forecast"
"""a packaged network's name with this suffix: the same network with demand forecasts only (``advance_info = 0``)"""
LEAD_SUFFIX = "-lead"
"""a packaged network's name with this suffix (after ``-forecast``, if any): stochastic lead times
(``lead_time_noise = LEAD_NOISE``)"""
LEAD_NOISE = 1
