"""Toll-design scenarios: a network with congestible links, origin-destination demand and a temperature.

A scenario is a directed network (``FlowNetwork``) whose arcs have a latency ``l_e(x) = t0_e + k_e x^p_e``
(``x`` the arc's flow; affine links have ``p = 1``, BPR links ``t0 (1 + alpha (x / capacity)^power)``),
a demand ``b[k, o]`` (flow per unit time from origin ``o`` to destination ``dests[k]``), the agents'
temperature ``tau`` (entropy weight of their routing problem, in units of latency) and the arcs the upper
level may toll.

JSON format (:func:`load_scenario`, or :func:`scenario_from_dict` for the equivalent dict)::

    {"name": "braess", "temperature": 0.2,
     "nodes": ["s", "v", "w", "t"],
     "links": [{"from": "s", "to": "v", "latency": {"type": "affine", "a": 0, "b": 1}, "tollable": false},
               {"from": "v", "to": "t", "latency": {"type": "bpr", "free_flow": 1, "capacity": 2,
                                                    "alpha": 0.15, "power": 4}}, ...],
     "demand": [{"origin": "s", "destination": "t", "rate": 1.0}]}

``tollable`` defaults to true. Malformed input raises :class:`~netctrl.errors.ScenarioError` naming the field
(``'links[3].latency.b' >= 0 (got -1.0)``, ``'demand[0].origin' = 'z' is not a node``, unreachable
destinations, a temperature so high that the agents' soft-Bellman series diverges).

Rules that turn a bare topology into a scenario (:func:`from_topology`), all seeded:

* **arcs and free-flow times**: the topology as :func:`netctrl.topologies.read_topology` reads it (a packaged
  name, a JSON file or a topohub key): both directions of every link, ``t0_e`` = the link's length over the
  median length rounded into 1..4 steps (:func:`netctrl.topologies.travel_time_steps`; hop count without
  lengths), as the network-flow scenarios do;
* **demand**: gravity model, every node is an origin and a destination; node weights ``w ~ U(0.5, 1.5)``,
  ``q[o, d] = load * w_o * w_d / mean(w)^2``;
* **latency**: BPR, ``l_e(x) = t0_e (1 + 0.15 (x / cap_e)^4)``; ``cap_e`` = ``capacity_factor`` (0.6) times
  the arc's flow when the agents route on free-flow times (no congestion, no tolls), but at least half the
  median of those flows: busy arcs are congested at equilibrium, so tolls that spread the flow pay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import shortest_path

from ...errors import GraphError, ScenarioError
from ...files import as_number, parse_json, read_text, shown
from ...graph import FlowNetwork
from ...topologies import read_topology, travel_time_steps

#: the largest toll scenario file (nodes) accepted: see :func:`check_temperature`
MAX_NODES = 2_000


@dataclass(frozen=True, eq=False)
class TollScenario:
    """A validated toll-design instance. ``N`` nodes, ``E`` arcs, ``K`` destinations, ``P`` tollable arcs."""

    name: str
    network: FlowNetwork
    """arcs with latency parameters ``t0``, ``k``, ``p`` (``l(x) = t0 + k x^p``)."""
    dests: np.ndarray
    """(K,) destination nodes."""
    demand: np.ndarray
    """(K, N) flow from every origin to each destination (zero at the destination itself)."""
    temperature: float
    """the agents' entropy weight ``tau`` (latency units)."""
    toll_arcs: np.ndarray
    """(P,) arcs the upper level may toll."""
    meta: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return self.network.num_nodes

    @property
    def num_arcs(self) -> int:
        return self.network.num_edges

    def latency(self, x):
        """``l(x)`` per arc (numpy or torch ``x``; negative flows count as 0)."""
        ea = self.network.edge_attr
        if isinstance(x, np.ndarray):
            x = np.maximum(x, 0.0)
            return ea["t0"] + ea["k"] * x ** ea["p"]
        import torch

        t0, k, p = (torch.as_tensor(ea[a], dtype=x.dtype) for a in ("t0", "k", "p"))
        return t0 + k * torch.clamp(x, min=0.0) ** p

    def latency_slope(self, x: np.ndarray) -> np.ndarray:
        """``l'(x)`` per arc."""
        ea = self.network.edge_attr
        x = np.maximum(x, 0.0)
        return ea["k"] * ea["p"] * x ** (ea["p"] - 1.0)

    def arc_tolls(self, theta: np.ndarray) -> np.ndarray:
        """(E,) toll on every arc from the (P,) tolls of the tollable arcs."""
        out = np.zeros(self.num_arcs)
        out[self.toll_arcs] = theta
        return out

    def __repr__(self) -> str:
        return (
            f"TollScenario({self.name!r}, nodes={self.num_nodes}, arcs={self.num_arcs}, "
            f"destinations={len(self.dests)}, tollable={len(self.toll_arcs)}, tau={self.temperature:g})"
        )


def _replace_network(scen: TollScenario, **edge_attr) -> TollScenario:
    """A copy of ``scen`` with some arc attributes replaced."""
    net = scen.network
    net = FlowNetwork(
        net.num_nodes, net.edge_index, edge_attr={**net.edge_attr, **edge_attr}, node_names=net.node_names
    )
    return TollScenario(scen.name, net, scen.dests, scen.demand, scen.temperature, scen.toll_arcs, meta=dict(scen.meta))


# ----------------------------------------------------------------------------------------- validation
def _number(value, name: str, *, low: float | None = 0.0, strict: bool = False) -> float:
    v = as_number(value)
    if v is None:
        raise ScenarioError(f"Expected '{name}' to be a number (got {shown(value)})")
    if not np.isfinite(v):
        raise ScenarioError(f"Expected '{name}' to be finite (got {v})")
    if low is not None and (v <= low if strict else v < low):
        raise ScenarioError(f"Expected '{name}' {'>' if strict else '>='} {low:g} (got {v})")
    return v


def _endpoints(rec, where: str, fields: tuple[str, str], pos: dict[str, int]) -> tuple[int, int]:
    """Node indices of the two node fields of record ``where`` (an object naming nodes of ``pos``)."""
    if not isinstance(rec, dict):
        raise ScenarioError(f"Expected '{where}' to be an object (got {shown(rec)})")
    for f in fields:
        if f not in rec:
            raise ScenarioError(f"'{where}' is missing field '{f}'")
        if isinstance(rec[f], bool) or not isinstance(rec[f], (str, int)) or str(rec[f]) not in pos:
            raise ScenarioError(f"'{where}.{f}' = {shown(rec[f])} is not a node")
    return pos[str(rec[fields[0]])], pos[str(rec[fields[1]])]


def _latency(spec, where: str) -> tuple[float, float, float]:
    """``(t0, k, p)`` of ``l(x) = t0 + k x^p`` from an affine or BPR latency spec."""
    if not isinstance(spec, dict):
        raise ScenarioError(f"Expected '{where}' to be an object with a 'type' (got {shown(spec)})")
    kind = spec.get("type", "affine")
    if kind == "affine":
        return _number(spec.get("a", 0.0), f"{where}.a"), _number(spec.get("b", 0.0), f"{where}.b"), 1.0
    if kind == "bpr":
        t0 = _number(spec.get("free_flow"), f"{where}.free_flow")
        cap = _number(spec.get("capacity"), f"{where}.capacity", strict=True)
        alpha = _number(spec.get("alpha", 0.15), f"{where}.alpha")
        power = _number(spec.get("power", 4.0), f"{where}.power", low=1.0)
        return t0, t0 * alpha / cap**power, power
    raise ScenarioError(f"Expected '{where}.type' in ('affine', 'bpr') (got {shown(kind)})")


def scenario_from_dict(data: dict, *, name: str | None = None) -> TollScenario:
    """Validate a scenario dict (the JSON format of the module docstring)."""
    if not isinstance(data, dict):
        raise ScenarioError(f"Expected a scenario object (got {type(data).__name__})")
    for key in ("nodes", "links", "demand"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ScenarioError(f"Expected a non-empty list '{key}'")
    tau = _number(data.get("temperature"), "temperature", strict=True)
    for j, n in enumerate(data["nodes"]):
        if isinstance(n, bool) or not isinstance(n, (str, int)):
            raise ScenarioError(f"Expected 'nodes[{j}]' to be a node name, a string or an integer (got {shown(n)})")
    if len(data["nodes"]) > MAX_NODES:
        raise ScenarioError(
            f"Expected at most {MAX_NODES} 'nodes' (got {len(data['nodes'])}): the temperature check "
            "takes the eigenvalues of a dense nodes x nodes matrix per destination"
        )
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise ScenarioError(f"Expected 'meta' to be an object (got {shown(meta)})")
    nodes = [str(n) for n in data["nodes"]]
    if len(set(nodes)) != len(nodes):
        raise ScenarioError(f"Expected unique 'nodes' (got a duplicate in {nodes})")
    pos = {n: i for i, n in enumerate(nodes)}
    src, dst, t0, k, p, tollable = [], [], [], [], [], []
    for j, link in enumerate(data["links"]):
        i, j_ = _endpoints(link, f"links[{j}]", ("from", "to"), pos)
        a, b, c = _latency(link.get("latency"), f"links[{j}].latency")
        toll = link.get("tollable", True)
        if not isinstance(toll, bool):
            raise ScenarioError(f"Expected 'links[{j}].tollable' to be true or false (got {shown(toll)})")
        src.append(i), dst.append(j_)
        t0.append(a), k.append(b), p.append(c), tollable.append(toll)
    try:
        net = FlowNetwork(len(nodes), [src, dst], edge_attr={"t0": t0, "k": k, "p": p}, node_names=nodes)
    except GraphError as exc:
        raise ScenarioError(f"'links': {exc}") from None
    dist = shortest_path(net.adjacency(), unweighted=True)
    dests: list[int] = []
    rows: dict[int, np.ndarray] = {}
    for j, dem in enumerate(data["demand"]):
        o, d = _endpoints(dem, f"demand[{j}]", ("origin", "destination"), pos)
        rate = _number(dem.get("rate"), f"demand[{j}].rate")
        if o == d:
            raise ScenarioError(f"'demand[{j}]': origin and destination are the same node {nodes[o]!r}")
        if not np.isfinite(dist[o, d]):
            raise ScenarioError(f"'demand[{j}]': destination {nodes[d]!r} cannot be reached from origin {nodes[o]!r}")
        if d not in rows:
            dests.append(d)
            rows[d] = np.zeros(len(nodes))
        rows[d][o] += rate
    scen = TollScenario(
        name or str(data.get("name", "toll")),
        net,
        np.asarray(dests, dtype=np.int64),
        np.stack([rows[d] for d in dests]),
        tau,
        np.flatnonzero(tollable),
        meta=dict(meta),
    )
    check_temperature(scen)
    return scen


def check_temperature(scen: TollScenario) -> float:
    """Raise :class:`ScenarioError` if the soft-Bellman series diverges at free-flow costs without tolls.

    With ``w_e = exp(-t0_e / tau)`` the agents' desirabilities solve ``z = M z + e_d`` (``M`` the weighted
    adjacency without the destination's row); a solution with finite positive values needs the spectral
    radius of ``M`` below 1 (costs, tolls >= 0 and congestion only lower it). Returns that radius.
    """
    net = scen.network
    w = np.exp(-net.edge_attr["t0"] / scen.temperature)
    m = np.zeros((net.num_nodes, net.num_nodes))
    np.add.at(m, (net.sources, net.targets), w)
    rho = 0.0
    for d in scen.dests:
        md = m.copy()
        md[d] = 0.0
        rho = max(rho, float(np.max(np.abs(np.linalg.eigvals(md)))))
    if rho >= 0.999:
        raise ScenarioError(
            f"Expected a smaller 'temperature' ({scen.temperature:g}): at free-flow costs the agents' "
            f"soft-Bellman series diverges (spectral radius {rho:.3f} >= 1; e.g. a zero-cost cycle)"
        )
    return rho


def load_scenario(path: str | Path) -> TollScenario:
    """Read and validate a scenario JSON file."""
    path = Path(path)
    data = parse_json(read_text(path, what="scenario"), f"{path}: cannot read scenario")
    name = data.get("name", path.stem) if isinstance(data, dict) else None
    try:
        return scenario_from_dict(data, name=None if name is None else str(name))
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


# ------------------------------------------------------------------------------------------ instances
def pigou(temperature: float = 0.5) -> TollScenario:
    """Pigou's network: unit demand s -> t over a constant link (``l = 1``) or a congestible one (``l = x``).

    FlowNetwork has no parallel arcs, so the congestible link is ``s -> m`` followed by a free ``m -> t``
    (one route each way; ``m`` has one exit, so route entropies are unchanged). Only ``s -> m`` is tollable.
    """
    return scenario_from_dict(
        {
            "name": "pigou",
            "temperature": temperature,
            "nodes": ["s", "m", "t"],
            "links": [
                {"from": "s", "to": "t", "latency": {"type": "affine", "a": 1.0, "b": 0.0}, "tollable": False},
                {"from": "s", "to": "m", "latency": {"type": "affine", "a": 0.0, "b": 1.0}},
                {"from": "m", "to": "t", "latency": {"type": "affine", "a": 0.0, "b": 0.0}, "tollable": False},
            ],
            "demand": [{"origin": "s", "destination": "t", "rate": 1.0}],
        }
    )


def braess(temperature: float = 0.2, *, toll_all: bool = False) -> TollScenario:
    """Braess's network: unit demand s -> t; ``s->v`` and ``w->t`` cost ``x``, ``v->t`` and ``s->w`` cost 1,
    the bridge ``v->w`` costs 0. Only the bridge is tollable unless ``toll_all``."""
    lat = {
        ("s", "v"): (0.0, 1.0),
        ("v", "t"): (1.0, 0.0),
        ("s", "w"): (1.0, 0.0),
        ("w", "t"): (0.0, 1.0),
        ("v", "w"): (0.0, 0.0),
    }
    return scenario_from_dict(
        {
            "name": "braess",
            "temperature": temperature,
            "nodes": ["s", "v", "w", "t"],
            "links": [
                {
                    "from": u,
                    "to": v,
                    "latency": {"type": "affine", "a": a, "b": b},
                    "tollable": toll_all or (u, v) == ("v", "w"),
                }
                for (u, v), (a, b) in lat.items()
            ],
            "demand": [{"origin": "s", "destination": "t", "rate": 1.0}],
        }
    )


def from_topology(
    name: str, *, temperature: float = 0.5, load: float = 1.0, capacity_factor: float = 0.6, seed: int = 0
) -> TollScenario:
    """A packaged topology (``geant``, ``att``, ``b4``), a topology JSON file or a topohub key, with the rules of
    the module docstring."""
    from .lower import RoutingAgents

    topo = read_topology(name)
    if topo.num_nodes > MAX_NODES:
        raise ScenarioError(
            f"{topo.source}: expected at most {MAX_NODES} nodes for a toll scenario (got "
            f"{topo.num_nodes}): the temperature check takes dense nodes x nodes eigenvalues"
        )
    src, dst, length = topo.arcs()
    try:
        base = FlowNetwork(
            topo.num_nodes,
            [src, dst],
            edge_attr={"travel_time": travel_time_steps(length)},
            node_names=list(topo.node_names),
            require_connected="strong",
        )
    except GraphError as exc:
        raise GraphError(f"{topo.source}: 'links': {exc}") from None
    rng = np.random.default_rng(seed)
    n = base.num_nodes
    w = rng.uniform(0.5, 1.5, n)
    q = load * np.outer(w, w) / w.mean() ** 2
    np.fill_diagonal(q, 0.0)
    t0 = base.edge_attr["travel_time"].astype(float)
    E = base.num_edges
    net = FlowNetwork(
        n, base.edge_index, edge_attr={"t0": t0, "k": np.zeros(E), "p": np.ones(E)}, node_names=base.node_names
    )
    free = TollScenario(
        name,
        net,
        np.arange(n),
        q.T.copy(),
        float(temperature),
        np.arange(E),
        meta={"seed": seed, "load": load, "capacity_factor": capacity_factor},
    )
    check_temperature(free)
    flow = RoutingAgents(free).loading(t0).x  # routing on free-flow times, no congestion
    cap = np.maximum(capacity_factor * flow, 0.5 * float(np.median(flow[flow > 0])))
    return _replace_network(free, k=t0 * 0.15 / cap**4, p=np.full(E, 4.0), capacity=cap)
