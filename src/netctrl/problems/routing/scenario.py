"""WAN topologies for packet routing: routers, directed arcs with bandwidth and latency, link-failure tasks.

The packaged files ``data/topologies/{b4,geant,att}.json`` (the MAMRL study's topologies) list undirected
``links`` ``{"u", "v", "capacity", "latency"}`` and three ``failure_scenarios`` ``{"failed_links": [[u, v]]}``.
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

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

from ...errors import GraphError, ScenarioError

PACKAGED = ("b4", "geant", "att")


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

    def with_failures(self, links) -> "RoutingTopology":
        """The same topology with the undirected links ``links`` (indices) failed: capacity 0 both ways."""
        links = tuple(int(lk) for lk in links)
        for lk in links:
            if not 0 <= lk < self.num_links:
                raise ScenarioError(f"failed link index {lk} out of range 0..{self.num_links - 1}")
        cap = self.capacity.copy()
        for lk in links:
            cap[2 * lk: 2 * lk + 2] = 0.0
        return replace(self, capacity=cap, failed=tuple(sorted(set(self.failed) | set(links))))

    def surviving_connected(self, links) -> bool:
        """Whether the network stays connected when ``links`` fail."""
        keep = np.ones(self.num_links, bool)
        keep[list(links)] = False
        a = csr_matrix((np.ones(int(keep.sum())), (self.src[0::2][keep], self.dst[0::2][keep])),
                       shape=(self.num_nodes, self.num_nodes))
        return connected_components(a, directed=False)[0] == 1

    def shortest_latency(self) -> np.ndarray:
        """(N, N) shortest total latency between routers over the intact links (static knowledge)."""
        a = csr_matrix((self.latency.astype(float), (self.src, self.dst)), shape=(self.num_nodes,) * 2)
        return shortest_path(a, directed=True)


def topology_from_dict(data: dict, name: str | None = None) -> RoutingTopology:
    """Validate a topology dict in the packaged format (see module docstring)."""
    name = name or str(data.get("name", "topology"))
    for key in ("nodes", "links"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ScenarioError(f"{name}: expected a non-empty list '{key}'")
    ids = []
    for k, n in enumerate(data["nodes"]):
        if not isinstance(n, dict) or "id" not in n:
            raise ScenarioError(f"{name}: 'nodes[{k}]' is missing field 'id'")
        ids.append(str(n["id"]))
    if len(set(ids)) != len(ids):
        raise ScenarioError(f"{name}: duplicate node ids in 'nodes'")
    index = {nid: k for k, nid in enumerate(ids)}
    src, dst, cap, lat, pairs = [], [], [], [], {}
    for k, link in enumerate(data["links"]):
        for f in ("u", "v"):
            if str(link.get(f)) not in index:
                raise ScenarioError(f"{name}: 'links[{k}].{f}' = {link.get(f)!r} is not a node id")
        u, v = index[str(link["u"])], index[str(link["v"])]
        if u == v:
            raise ScenarioError(f"{name}: 'links[{k}]' is a self-loop at {ids[u]!r}")
        if (min(u, v), max(u, v)) in pairs:
            raise ScenarioError(f"{name}: 'links[{k}]' duplicates link {ids[u]}-{ids[v]}")
        c, lt = link.get("capacity"), link.get("latency")
        if not isinstance(c, (int, float)) or not np.isfinite(c) or c <= 0:
            raise ScenarioError(f"{name}: 'links[{k}].capacity' > 0 expected (got {c!r})")
        if not isinstance(lt, (int, float)) or int(lt) != lt or lt < 1:
            raise ScenarioError(f"{name}: 'links[{k}].latency' integer >= 1 expected (got {lt!r})")
        pairs[(min(u, v), max(u, v))] = k
        src += [u, v]
        dst += [v, u]
        cap += [float(c)] * 2
        lat += [int(lt)] * 2
    src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
    n = len(ids)
    degree = np.bincount(src, minlength=n)
    if degree.min() == 0:
        raise GraphError(f"{name}: router {ids[int(np.argmin(degree))]!r} has no link")
    out = np.full((n, int(degree.max())), -1, np.int64)
    fill = np.zeros(n, np.int64)
    for e, u in enumerate(src):  # local action a of router u = its a-th arc in file order
        out[u, fill[u]] = e
        fill[u] += 1
    scenarios = []
    for k, sc in enumerate(data.get("failure_scenarios", [])):
        links = []
        for j, pair in enumerate(sc.get("failed_links", [])):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2 or any(str(p) not in index for p in pair):
                raise ScenarioError(f"{name}: 'failure_scenarios[{k}].failed_links[{j}]' = {pair!r} is not a pair of node ids")
            key = tuple(sorted(index[str(p)] for p in pair))
            if key not in pairs:
                raise ScenarioError(f"{name}: 'failure_scenarios[{k}].failed_links[{j}]' = {pair!r} is not a link")
            links.append(pairs[key])
        scenarios.append(tuple(links))
    topo = RoutingTopology(name, tuple(ids), src, dst, np.asarray(cap), np.asarray(lat, np.int64), out, degree,
                           tuple(scenarios))
    if not topo.surviving_connected(()):
        raise GraphError(f"{name}: the network is not connected")
    return topo


def load_topology(name_or_path: str | Path) -> RoutingTopology:
    """``b4`` / ``geant`` / ``att`` (packaged) or the path of a JSON file in the same format."""
    key = str(name_or_path).lower()
    if key in PACKAGED:
        from importlib import resources

        text = resources.files("netctrl").joinpath("data", "topologies", f"{key}.json").read_text()
        return topology_from_dict(json.loads(text), key)
    path = Path(name_or_path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read topology ({exc}); packaged ones: {', '.join(PACKAGED)}") from None
    return topology_from_dict(data, data.get("name", path.stem) if isinstance(data, dict) else path.stem)
