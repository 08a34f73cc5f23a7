"""Dynamic multi-commodity network-flow scenarios on any graph (topohub, the packaged WAN topologies, JSON).

A scenario is a directed network (both directions of every link) with per-arc ``capacity`` (units per step),
``travel_time`` (steps) and ``cost`` (per unit), ``K`` commodities each with its own sink, and a time-varying
expected arrival rate of new units of every commodity at every node. Units are delivered (and earn
``reward``) when they reach their commodity's sink; waiting units pay ``holding_cost`` per step.

Rules that turn a bare topology into a scenario (:func:`from_graph`), all seeded:

* **travel times**: ``round(length / median length)``, clipped to ``[1, 4]`` steps (hop count if the graph
  has no lengths);
* **sinks**: ``K`` nodes by farthest-point sampling on hop distance (the first one drawn from the seed);
* **arrivals**: every non-sink node gets a weight ``U(0.5, 1.5)``; the expected arrival of commodity ``k`` at
  node ``i`` and step ``t`` is ``load * weight_i * (1 + 0.5 sin(2 pi t / 15 + phase_k))`` units for ``t < T - 5``
  (the last steps only drain the network);
* **capacities**: the mean arrivals are routed on shortest paths (by travel time); an arc's capacity is 0.8
  times its load under that routing, but at least half the median load (and at least 1): routing everything
  on shortest paths congests the busy arcs at peak times, so spreading flow and timing it pays.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra, shortest_path

from ...errors import GraphError, ScenarioError
from ...graph import FlowNetwork

DATA_TOPOLOGIES = ("b4", "geant", "att")


@dataclass(frozen=True, eq=False)
class NetworkFlowScenario:
    """A validated dynamic multi-commodity flow problem. ``N`` nodes, ``E`` arcs, ``K`` commodities."""

    name: str
    network: FlowNetwork
    """arcs with ``capacity``, ``travel_time`` and ``cost``."""
    sinks: np.ndarray
    """(K,) sink node of each commodity."""
    rate: np.ndarray
    """(H, N, K) expected new units per step (``H = steps + lookahead``; zero at the sinks)."""
    steps: int
    reward: float = 10.0
    """earned per unit delivered to its sink."""
    holding_cost: float = 0.1
    """per waiting unit per step."""
    disruptions: float = 0.05
    """share of arcs whose capacity halves for 10 steps in each episode (drawn at reset)."""
    meta: dict = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return self.network.num_nodes

    @property
    def num_commodities(self) -> int:
        return len(self.sinks)

    def sink_distance(self) -> np.ndarray:
        """(N, K) travel time from every node to each commodity's sink along shortest paths."""
        adj = self.network.adjacency(weight="travel_time")
        return dijkstra(adj.T, indices=self.sinks).T  # distances to the sinks on the reversed graph

    def arc_progress(self) -> np.ndarray:
        """(K, E) how much nearer to each commodity's sink every arc leads (travel time; negative: away from
        it; 0 where the sink is unreachable)."""
        net = self.network
        dist = self.sink_distance()
        return np.nan_to_num((dist[net.sources] - dist[net.targets]).T, nan=0.0, posinf=0.0, neginf=0.0)

    def arc_sink_distance(self) -> np.ndarray:
        """(K, E) travel time to each commodity's sink of a unit that takes each arc: the arc's travel time plus
        the shortest travel time on from its head (inf where the sink is unreachable from there)."""
        net = self.network
        return net.edge_attr["travel_time"][None, :] + self.sink_distance()[net.targets].T

    def next_hop_arcs(self) -> np.ndarray:
        """(K, N) arc of each node's next hop on its shortest path (by travel time) to each commodity's sink
        (-1 at the sink and where the sink is unreachable)."""
        net = self.network
        _, pred = dijkstra(net.adjacency(weight="travel_time").T, indices=self.sinks, return_predecessors=True)
        eid = net.edge_id()
        nxt = np.full((self.num_commodities, self.num_nodes), -1)
        for k, i in zip(*np.nonzero(pred >= 0)):
            nxt[k, i] = eid[(int(i), int(pred[k, i]))]
        return nxt

    def __repr__(self) -> str:
        return (f"NetworkFlowScenario({self.name!r}, nodes={self.num_nodes}, arcs={self.network.num_edges}, "
                f"commodities={self.num_commodities}, steps={self.steps})")


def arrives_in_time(sink_dist: np.ndarray, t: int, steps: int) -> np.ndarray:
    """Whether a unit sent at step ``t`` from a node at travel time ``sink_dist`` from its sink reaches it by the
    episode's end (``t + sink_dist <= steps``): only then can it still earn its reward."""
    return t + sink_dist <= steps


# ---------------------------------------------------------------------------------------------- building
def from_graph(name: str, num_nodes: int, links: list[tuple[int, int, float]], *, commodities: int = 4,
               steps: int = 40, load: float = 2.0, seed: int = 0, lookahead: int = 20,
               node_names: list | None = None) -> NetworkFlowScenario:
    """Build a scenario from an undirected topology ``links = [(u, v, length), ...]`` (see module docstring)."""
    if num_nodes < 2:
        raise GraphError(f"Expected at least 2 nodes (got {num_nodes})")
    if commodities < 1 or commodities >= num_nodes:
        raise ScenarioError(f"Expected 1 <= 'commodities' < number of nodes (got {commodities} for {num_nodes} nodes)")
    if not links:
        raise GraphError("the topology has no links")
    if steps <= 5:
        raise ScenarioError(f"Expected 'steps' > 5: new units arrive until 5 steps before the end (got {steps})")
    rng = np.random.default_rng(seed)
    seen, src, dst, length = set(), [], [], []
    for k, (u, v, d) in enumerate(links):
        if u == v:
            continue
        if d is not None and (not np.isfinite(d) or d < 0):
            raise ScenarioError(f"link {k} ({u}, {v}) has an invalid length {d!r}")
        for a, b in ((u, v), (v, u)):
            if (a, b) not in seen:
                seen.add((a, b))
                src.append(a), dst.append(b), length.append(1.0 if d is None else float(d))
    length = np.asarray(length)
    med = float(np.median(length[length > 0])) if (length > 0).any() else 1.0
    travel = np.clip(np.rint(length / max(med, 1e-12)), 1, 4)
    probe = FlowNetwork(num_nodes, [src, dst], edge_attr={"travel_time": travel}, node_names=node_names,
                        require_connected="strong")
    hops = shortest_path(probe.adjacency(), unweighted=True)
    sinks = [int(rng.integers(num_nodes))]
    while len(sinks) < commodities:
        d = hops[sinks].min(axis=0)
        d[sinks] = -1
        sinks.append(int(np.argmax(d)))
    sinks = np.asarray(sinks)
    H = steps + lookahead
    weight = rng.uniform(0.5, 1.5, num_nodes)
    phase = rng.uniform(0, 2 * np.pi, commodities)
    t = np.arange(H)[:, None, None]
    rate = load * weight[None, :, None] * (1 + 0.5 * np.sin(2 * np.pi * t / 15 + phase[None, None, :]))
    rate = np.broadcast_to(rate, (H, num_nodes, commodities)).copy()
    rate[steps - 5 :] = 0.0
    for k, s in enumerate(sinks):
        rate[:, s, k] = 0.0
    # capacities from the shortest-path loads of the mean arrivals
    mean_rate = rate[: steps - 5].mean(axis=0)                       # (N, K)
    load_e = _shortest_path_loads(probe, sinks, mean_rate)
    floor = max(1.0, 0.5 * float(np.median(load_e[load_e > 0])) if (load_e > 0).any() else 1.0)
    capacity = np.maximum(np.ceil(0.8 * load_e), floor)
    network = FlowNetwork(num_nodes, [src, dst],
                          edge_attr={"capacity": capacity, "travel_time": travel, "cost": 0.05 * travel},
                          node_names=node_names, require_connected="strong")
    return NetworkFlowScenario(name, network, sinks, rate, steps,
                               meta={"seed": seed, "load": load, "median_length": med})


def _shortest_path_loads(net: FlowNetwork, sinks: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """(E,) load of each arc when every node sends ``rate[:, k]`` to ``sinks[k]`` on a shortest path."""
    adj = net.adjacency(weight="travel_time")
    dist, pred = dijkstra(adj.T, indices=sinks, return_predecessors=True)   # on the reversed graph
    eid = net.edge_id()
    loads = np.zeros(net.num_edges)
    for k, s in enumerate(sinks):
        order = np.argsort(-dist[k])                  # farthest first, so loads accumulate toward the sink
        carried = rate[:, k].copy()
        for i in order:
            if i == s or not np.isfinite(dist[k, i]):
                continue
            nxt = pred[k, i]                          # next hop from i toward s (predecessor in the reversed tree)
            loads[eid[(int(i), int(nxt))]] += carried[i]
            carried[nxt] += carried[i]
    return loads


@lru_cache(maxsize=64)
def _topohub_graph(key: str) -> dict:
    import topohub

    try:
        with warnings.catch_warnings():  # topohub leaves its JSON file open (ResourceWarning); not ours to fix
            warnings.simplefilter("ignore", ResourceWarning)
            return topohub.get(key)
    except Exception as exc:
        raise ScenarioError(f"topohub has no topology {key!r} ({exc})") from None


def from_topohub(key: str, **kwargs) -> NetworkFlowScenario:
    """A topohub topology (``gabriel/200/0``, ``sndlib/abilene``, ``topozoo/AttMpls``...)."""
    g = _topohub_graph(key)
    ids = [n["id"] for n in g["nodes"]]
    pos = {nid: k for k, nid in enumerate(ids)}
    links = [(pos[e["source"]], pos[e["target"]], e.get("dist")) for e in g["edges"]]
    return from_graph(key, len(ids), links, node_names=[n.get("name", n["id"]) for n in g["nodes"]], **kwargs)


def from_topology_json(path: str | Path, **kwargs) -> NetworkFlowScenario:
    """A topology file in the format of the packaged ``b4.json`` (``nodes`` with ``id``/``pos``, ``links``)."""
    path = Path(path)
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read topology ({exc})") from None
    for key in ("nodes", "links"):
        if key not in data or not isinstance(data[key], list) or not data[key]:
            raise ScenarioError(f"{path}: expected a non-empty list '{key}'")
    ids = []
    for k, n in enumerate(data["nodes"]):
        if not isinstance(n, dict) or "id" not in n:
            raise ScenarioError(f"{path}: 'nodes[{k}]' is missing field 'id'")
        ids.append(n["id"])
    pos = {nid: k for k, nid in enumerate(ids)}
    coords = {n["id"]: n.get("pos") for n in data["nodes"]}
    links = []
    for k, link in enumerate(data["links"]):
        for f in ("u", "v"):
            if link.get(f) not in pos:
                raise ScenarioError(f"{path}: 'links[{k}].{f}' = {link.get(f)!r} is not a node id")
        a, b = coords[link["u"]], coords[link["v"]]
        d = float(np.hypot(a[0] - b[0], a[1] - b[1])) if a is not None and b is not None else None
        links.append((pos[link["u"]], pos[link["v"]], d))
    return from_graph(data.get("name", path.stem), len(ids), links, node_names=ids, **kwargs)


def load_named(name: str, **kwargs) -> NetworkFlowScenario:
    """``b4`` / ``geant`` / ``att`` (packaged), or any topohub key (``gabriel/50/3``, ``sndlib/abilene``)."""
    key = name.lower()
    if key in DATA_TOPOLOGIES:
        from importlib import resources

        with resources.as_file(resources.files("netctrl").joinpath("data", "topologies", f"{key}.json")) as p:
            return from_topology_json(p, **kwargs)
    return from_topohub(name, **kwargs)
