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
* **sources** (``sources``): ``"all"`` (default, the rule of every registered instance): units of every
  commodity arrive at every node; ``"in-time"``: units of commodity ``k`` arrive only at the nodes whose
  shortest travel time to sink ``k`` is at most ``T - 5`` steps, so that a unit arriving at the episode's start
  can be delivered. On the graphs the policies train on this changes little (1.1 % of the expected units on
  the 500-node Gabriel graph, none on 10-200 nodes), but on real backbones of 800-3,800 nodes whose paths are
  up to 215 steps long, 45-92 % of the units of ``"all"`` could never reach their sink in a 40-step episode
  and only pay holding costs: every controller's return is then dominated by units nobody can deliver;
* **capacities**: the mean arrivals are routed on shortest paths (by travel time); an arc's capacity is 0.8
  times its load under that routing, but at least half the median load (and at least 1): routing everything
  on shortest paths congests the busy arcs at peak times, so spreading flow and timing it pays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.csgraph import dijkstra, shortest_path

from ...errors import GraphError, ScenarioError
from ...graph import FlowNetwork
from ...topologies import Topology, read_topology, travel_time_steps, undirected_arcs

#: the largest graph a scenario is built on
MAX_NODES = 10_000
#: where units arrive (``sources``): at every node, or only where their sink can be reached in the episode
SOURCES = ("all", "in-time")


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
        return (
            f"NetworkFlowScenario({self.name!r}, nodes={self.num_nodes}, arcs={self.network.num_edges}, "
            f"commodities={self.num_commodities}, steps={self.steps})"
        )


def arrives_in_time(sink_dist: np.ndarray, t: int, steps: int) -> np.ndarray:
    """Whether a unit sent at step ``t`` from a node at travel time ``sink_dist`` from its sink reaches it by the
    episode's end (``t + sink_dist <= steps``): only then can it still earn its reward."""
    return t + sink_dist <= steps


# ---------------------------------------------------------------------------------------------- building
def from_graph(
    name: str,
    num_nodes: int,
    links: list[tuple[int, int, float]],
    *,
    commodities: int = 4,
    steps: int = 40,
    load: float = 2.0,
    seed: int = 0,
    lookahead: int = 20,
    sources: str = "all",
    node_names: list | None = None,
) -> NetworkFlowScenario:
    """Build a scenario from an undirected topology ``links = [(u, v, length), ...]`` (see module docstring)."""
    if num_nodes < 2:
        raise GraphError(f"Expected at least 2 nodes (got {num_nodes})")
    if num_nodes > MAX_NODES:
        raise ScenarioError(f"Expected at most {MAX_NODES} nodes for a network-flow scenario (got {num_nodes})")
    if commodities < 1 or commodities >= num_nodes:
        raise ScenarioError(f"Expected 1 <= 'commodities' < number of nodes (got {commodities} for {num_nodes} nodes)")
    if not links:
        raise GraphError("the topology has no links")
    if steps <= 5:
        raise ScenarioError(f"Expected 'steps' > 5: new units arrive until 5 steps before the end (got {steps})")
    if sources not in SOURCES:
        raise ScenarioError(f"Expected 'sources' in {SOURCES} (got {sources!r})")
    rng = np.random.default_rng(seed)
    src, dst, length = undirected_arcs(links)
    travel = travel_time_steps(length)
    probe = FlowNetwork(
        num_nodes, [src, dst], edge_attr={"travel_time": travel}, node_names=node_names, require_connected="strong"
    )
    # farthest-point sampling on hop distance: one breadth-first search per sink, no all-pairs matrix
    adjacency = probe.adjacency()
    sinks = [int(rng.integers(num_nodes))]
    nearest = shortest_path(adjacency, unweighted=True, indices=sinks[0])
    while len(sinks) < commodities:
        d = nearest.copy()
        d[sinks] = -1
        sinks.append(int(np.argmax(d)))
        nearest = np.minimum(nearest, shortest_path(adjacency, unweighted=True, indices=sinks[-1]))
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
    # shortest travel times to each sink and the next hops toward it (dijkstra on the reversed graph)
    to_sink, next_hop = dijkstra(probe.adjacency(weight="travel_time").T, indices=sinks, return_predecessors=True)
    if sources == "in-time":
        too_far = to_sink > steps - 5  # (K, N)
        rate[:, too_far.T] = 0.0
    # capacities from the shortest-path loads of the mean arrivals
    mean_rate = rate[: steps - 5].mean(axis=0)  # (N, K)
    load_e = _shortest_path_loads(probe, sinks, mean_rate, to_sink, next_hop)
    floor = max(1.0, 0.5 * float(np.median(load_e[load_e > 0])) if (load_e > 0).any() else 1.0)
    capacity = np.maximum(np.ceil(0.8 * load_e), floor)
    network = FlowNetwork(
        num_nodes,
        [src, dst],
        edge_attr={"capacity": capacity, "travel_time": travel, "cost": 0.05 * travel},
        node_names=node_names,
        require_connected="strong",
    )
    meta = {"seed": seed, "load": load, "median_length": _median_length(length), "sources": sources}
    return NetworkFlowScenario(name, network, sinks, rate, steps, meta=meta)


def _shortest_path_loads(
    net: FlowNetwork, sinks: np.ndarray, rate: np.ndarray, dist: np.ndarray, pred: np.ndarray
) -> np.ndarray:
    """(E,) load of each arc when every node sends ``rate[:, k]`` to ``sinks[k]`` on a shortest path, given the
    travel times ``dist`` (K, N) to the sinks and the next hops ``pred`` (K, N) toward them."""
    eid = net.edge_id()
    loads = np.zeros(net.num_edges)
    for k, s in enumerate(sinks):
        order = np.argsort(-dist[k])  # farthest first, so loads accumulate toward the sink
        carried = rate[:, k].copy()
        for i in order:
            if i == s or not np.isfinite(dist[k, i]):
                continue
            nxt = pred[k, i]  # next hop from i toward s (predecessor in the reversed tree)
            loads[eid[(int(i), int(nxt))]] += carried[i]
            carried[nxt] += carried[i]
    return loads


def _median_length(length: np.ndarray) -> float:
    return float(np.median(length[length > 0])) if (length > 0).any() else 1.0


def from_topology(topology: Topology, **kwargs) -> NetworkFlowScenario:
    """A scenario on a :class:`~netctrl.topologies.Topology` (the rules of the module docstring); an error names
    the topology's source."""
    lengths = topology.length if topology.length is not None else [None] * topology.num_links
    links = [(int(u), int(v), None if d is None else float(d)) for (u, v), d in zip(topology.links, lengths)]
    try:
        return from_graph(topology.name, topology.num_nodes, links, node_names=list(topology.node_names), **kwargs)
    except (GraphError, ScenarioError) as exc:
        raise type(exc)(f"{topology.source}: {exc}") from None


def load_named(name: str, **kwargs) -> NetworkFlowScenario:
    """A scenario on any topology :func:`~netctrl.topologies.read_topology` reads: ``b4`` / ``geant`` / ``att``
    (packaged), a topology JSON file, or a topohub key (``gabriel/50/3``, ``sndlib/abilene``)."""
    return from_topology(read_topology(name), **kwargs)
