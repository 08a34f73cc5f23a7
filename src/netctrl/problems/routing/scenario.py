"""WAN topologies for packet routing: routers, directed arcs with bandwidth and latency, link-failure tasks.

The packaged files ``data/topologies/{b4,geant,att}.json`` (the MAMRL study's topologies, read by
:mod:`netctrl.topologies`) list undirected ``links`` ``{"u", "v", "capacity", "latency"}`` and three
``failure_scenarios`` ``{"failed_links": [[u, v]]}``.
Every undirected link becomes two arcs (full duplex: each direction has the link's bandwidth). A failed link
keeps its arcs (the routers do not know it failed) but their capacity is 0, so every packet sent on it is lost.

>>> topo = load_topology("b4")
>>> topo.num_nodes, topo.num_links, topo.num_arcs, int(topo.degree.max())
(12, 19, 38, 4)
>>> [topo.link_names(s) for s in topo.failure_scenarios]
[[('D', 'E')], [('I', 'K')], [('C', 'F')]]
>>> int(topo.with_failures(topo.failure_scenarios[0]).capacity.min())
0
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

from ...errors import GraphError, ScenarioError
from ...topologies import PACKAGED, Topology, read_topology  # noqa: F401  (PACKAGED: re-exported by the package)
from ...topologies import topology_from_dict as read_topology_dict

#: the longest link latency (ticks) a topology may give (tick counts are int64; episodes last at most 10**6 ticks)
MAX_LATENCY = 10**9


@dataclass(frozen=True, eq=False)
class RoutingTopology:
    """A router network. ``N`` routers, ``L`` undirected links, ``E = 2 L`` arcs, ``D`` the largest degree."""

    name: str
    node_names: tuple[str, ...]
    src: np.ndarray
    """(E,) tail router of each arc; arcs ``2 l`` and ``2 l + 1`` are the two directions of link ``l``."""
    dst: np.ndarray
    """(E,) head router of each arc."""
    capacity: np.ndarray
    """(E,) bandwidth (0 on a failed link)."""
    latency: np.ndarray
    """(E,) transmission time in ticks (>= 1)."""
    out_arcs: np.ndarray = field(repr=False)
    """(N, D) arc of each router's local action ``a`` (padded with -1 beyond the router's degree)."""
    degree: np.ndarray = field(repr=False)
    """(N,) number of neighbours = size of the router's action space."""
    failure_scenarios: tuple[tuple[int, ...], ...] = ()
    """the file's link-failure tasks, as tuples of undirected link indices."""
    failed: tuple[int, ...] = ()
    """links failed in this topology."""

    @property
    def num_nodes(self) -> int:
        return len(self.node_names)

    @property
    def num_arcs(self) -> int:
        return len(self.src)

    @property
    def num_links(self) -> int:
        return len(self.src) // 2

    @property
    def max_degree(self) -> int:
        return self.out_arcs.shape[1]

    def link_names(self, links) -> list[tuple[str, str]]:
        return [(self.node_names[self.src[2 * lk]], self.node_names[self.dst[2 * lk]]) for lk in links]

    def with_failures(self, links) -> RoutingTopology:
        """The same topology with the undirected links ``links`` (indices) failed: capacity 0 both ways."""
        links = tuple(int(lk) for lk in links)
        for lk in links:
            if not 0 <= lk < self.num_links:
                raise ScenarioError(f"failed link index {lk} out of range 0..{self.num_links - 1}")
        cap = self.capacity.copy()
        for lk in links:
            cap[2 * lk : 2 * lk + 2] = 0.0
        return replace(self, capacity=cap, failed=tuple(sorted(set(self.failed) | set(links))))

    def surviving_connected(self, links) -> bool:
        """Whether the network stays connected when ``links`` fail."""
        keep = np.ones(self.num_links, bool)
        keep[list(links)] = False
        a = csr_matrix(
            (np.ones(int(keep.sum())), (self.src[0::2][keep], self.dst[0::2][keep])),
            shape=(self.num_nodes, self.num_nodes),
        )
        return connected_components(a, directed=False)[0] == 1

    def shortest_latency(self) -> np.ndarray:
        """(N, N) shortest total latency between routers over the intact links (static knowledge)."""
        a = csr_matrix((self.latency.astype(float), (self.src, self.dst)), shape=(self.num_nodes,) * 2)
        return shortest_path(a, directed=True)


def from_topology(topo: Topology) -> RoutingTopology:
    """A router network from a :class:`~netctrl.topologies.Topology`, which must give every link a
    ``capacity`` (> 0) and an integer ``latency`` (>= 1 ticks); local action ``a`` of a router is its ``a``-th
    link in the file's order."""
    name = topo.name
    if topo.capacity is None or topo.latency is None:
        field_ = "capacity" if topo.capacity is None else "latency"
        raise ScenarioError(
            f"{name}: routing needs a '{field_}' on every link (e.g. 'links[0].{field_}'); "
            f"topohub graphs have none, give a topology JSON file with them"
        )
    bad = np.flatnonzero((topo.latency < 1) | (topo.latency > MAX_LATENCY) | (topo.latency != np.round(topo.latency)))
    if bad.size:
        k = int(bad[0])
        raise ScenarioError(
            f"{name}: 'links[{k}].latency' integer in 1..{MAX_LATENCY} ticks expected (got {topo.latency[k]:g})"
        )
    u, v = topo.links[:, 0], topo.links[:, 1]
    src = np.stack([u, v], 1).reshape(-1).astype(np.int64)  # arcs 2l = u -> v, 2l + 1 = v -> u
    dst = np.stack([v, u], 1).reshape(-1).astype(np.int64)
    cap = np.repeat(topo.capacity.astype(float), 2)
    lat = np.repeat(topo.latency.astype(np.int64), 2)
    n = topo.num_nodes
    degree = np.bincount(src, minlength=n)
    if degree.min() == 0:
        raise GraphError(f"{name}: router {topo.node_names[int(np.argmin(degree))]!r} has no link")
    out = np.full((n, int(degree.max())), -1, np.int64)
    fill = np.zeros(n, np.int64)
    for e, r in enumerate(src):  # local action a of router r = its a-th arc in file order
        out[r, fill[r]] = e
        fill[r] += 1
    rt = RoutingTopology(name, tuple(topo.node_names), src, dst, cap, lat, out, degree, tuple(topo.failure_scenarios))
    if not rt.surviving_connected(()):
        raise GraphError(f"{name}: the network is not connected")
    return rt


def topology_from_dict(data: dict, name: str | None = None) -> RoutingTopology:
    """Validate a topology dict in the packaged format (see :mod:`netctrl.topologies`)."""
    return from_topology(read_topology_dict(data, name))


def load_topology(name_or_path: str | Path) -> RoutingTopology:
    """``b4`` / ``geant`` / ``att`` (packaged) or the path of a JSON topology file with capacities and latencies
    (read by :func:`netctrl.topologies.read_topology`)."""
    return from_topology(read_topology(name_or_path))
