"""The one reader of network topologies: the packaged WAN files, topohub, and the user's own JSON files.

A *topology* is an undirected network: named nodes (optionally with positions), links between them (optionally
with ``capacity``, ``latency`` and a length) and named link-failure scenarios. Every problem family that starts
from a topology (network flow, WAN routing, toll design) reads it here and adds its own rules (which fields it
requires, how it turns lengths into travel times, ...).

Sources, by :func:`read_topology`:

* a packaged name: ``b4``, ``geant``, ``att`` (``netctrl/data/topologies/*.json``, the MAMRL study's networks);
* a path to a JSON file in the same format::

      {"name": "my-wan",
       "nodes": [{"id": "A", "pos": [0.1, 0.9]}, {"id": "B", "pos": [0.3, 0.2]}, ...],
       "links": [{"u": "A", "v": "B", "capacity": 10.0, "latency": 2}, ...],
       "failure_scenarios": [{"failed_links": [["A", "B"]]}]}

  (``pos``, ``capacity``, ``latency`` and ``failure_scenarios`` optional; a link's length is the distance
  between its end nodes' positions);
* any topohub key (``gabriel/200/0``, ``sndlib/abilene``, ``topozoo/AttMpls``, ``backbone/europe``): lengths
  from topohub's ``dist``, no capacities or latencies; parallel links are merged (the first one is kept) and
  self-loops dropped, as Topology Zoo's multigraphs have both.

A file with an unknown node in a link, a duplicate or self-looping link, a missing field or a value of the
wrong type raises :class:`~netctrl.errors.ScenarioError` naming the field (``'links[3].v' = 'Z' is not a
node id``).

>>> topo = read_topology("b4")
>>> topo.num_nodes, topo.num_links, topo.failure_scenarios[0], topo.link_names(topo.failure_scenarios[0])
(12, 19, (5,), [('D', 'E')])
>>> src, dst, length = topo.arcs()
>>> len(src), float(travel_time_steps(length).max())
(38, 2.0)
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ScenarioError
from .files import as_number, read_json, shown

PACKAGED = ("b4", "geant", "att")
"""topologies shipped with netctrl (``netctrl/data/topologies``)."""


@dataclass(frozen=True, eq=False)
class Topology:
    """An undirected network as read from its source. ``N`` nodes, ``L`` links (in the source's order)."""

    name: str
    node_names: tuple[str, ...]
    links: np.ndarray
    """(L, 2) end nodes ``u, v`` of each link (node indices)."""
    capacity: np.ndarray | None = None
    """(L,) link bandwidth, or ``None`` where the source has none."""
    latency: np.ndarray | None = None
    """(L,) link latency, or ``None`` where the source has none."""
    length: np.ndarray | None = None
    """(L,) link length (from node positions or topohub's ``dist``), or ``None`` where the source has none."""
    positions: np.ndarray | None = field(default=None, repr=False)
    """(N, 2) node positions, or ``None``."""
    failure_scenarios: tuple[tuple[int, ...], ...] = ()
    """the source's link-failure scenarios, each a tuple of link indices."""
    source: str = ""
    """where it was read from (packaged name, path or topohub key)."""

    @property
    def num_nodes(self) -> int:
        return len(self.node_names)

    @property
    def num_links(self) -> int:
        return len(self.links)

    def link_names(self, links) -> list[tuple[str, str]]:
        """``(u, v)`` node names of the given link indices."""
        return [(self.node_names[self.links[k, 0]], self.node_names[self.links[k, 1]]) for k in links]

    def arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(src, dst, length)`` of the directed arcs: both directions of every link, in link order
        (``u -> v`` then ``v -> u``), each with its link's length (1 where the source has none); see
        :func:`undirected_arcs`."""
        lengths = self.length if self.length is not None else [None] * self.num_links
        src, dst, length = undirected_arcs([(int(u), int(v), d) for (u, v), d in zip(self.links, lengths)])
        return np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), length

    def __repr__(self) -> str:
        return f"Topology({self.name!r}, nodes={self.num_nodes}, links={self.num_links}, source={self.source!r})"


def undirected_arcs(links) -> tuple[list[int], list[int], np.ndarray]:
    """Both directions of every undirected link ``(u, v, length)``: arcs ``u -> v`` then ``v -> u`` in link
    order, a pair already present is not repeated (the first link's length wins), self-loops are dropped;
    a ``None`` length counts as 1.

    >>> undirected_arcs([(0, 1, 2.0), (1, 0, 5.0), (1, 2, None), (2, 2, 1.0)])
    ([0, 1, 1, 2], [1, 0, 2, 1], array([2., 2., 1., 1.]))
    """
    seen, src, dst, length = set(), [], [], []
    for k, (u, v, d) in enumerate(links):
        if u == v:
            continue
        if d is not None and (not np.isfinite(d) or d < 0):
            raise ScenarioError(f"link {k} ({u}, {v}) has an invalid length {d!r}")
        for a, b in ((u, v), (v, u)):
            if (a, b) not in seen:
                seen.add((a, b))
                src.append(int(a)), dst.append(int(b)), length.append(1.0 if d is None else float(d))
    return src, dst, np.asarray(length, dtype=float)


def travel_time_steps(length: np.ndarray) -> np.ndarray:
    """Travel times in whole steps from link lengths: ``round(length / median length)`` clipped to ``[1, 4]``
    (the median over the positive lengths; every arc takes one step if no length is positive).

    >>> travel_time_steps(np.array([1.0, 2.0, 2.6, 50.0])).tolist()
    [1.0, 1.0, 1.0, 4.0]
    """
    length = np.asarray(length, dtype=float)
    med = float(np.median(length[length > 0])) if (length > 0).any() else 1.0
    return np.clip(np.rint(length / max(med, 1e-12)), 1, 4)


# ---------------------------------------------------------------------------------------------- reading
def _number(value, where: str, *, positive: bool = False, integer: bool = False) -> float:
    if as_number(value) is None or not np.isfinite(value):
        raise ScenarioError(f"'{where}' must be a finite number (got {shown(value)})")
    if positive and value <= 0:
        raise ScenarioError(f"'{where}' > 0 expected (got {value!r})")
    if integer and int(value) != value:
        raise ScenarioError(f"'{where}' must be a whole number (got {value!r})")
    return float(value)


def topology_from_dict(data, name: str | None = None, *, source: str = "") -> Topology:
    """Validate a topology in the JSON format of the module docstring (strict: duplicate links, self-loops
    and unknown nodes are errors)."""
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{name or source or 'topology'}: expected a JSON object with 'nodes' and 'links' "
            f"(got {type(data).__name__})"
        )
    name = str(name or data.get("name") or "topology")
    for key in ("nodes", "links"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ScenarioError(f"{name}: expected a non-empty list '{key}'")
    ids, positions = [], []
    for k, n in enumerate(data["nodes"]):
        if not isinstance(n, dict):
            raise ScenarioError(f"{name}: 'nodes[{k}]' must be an object with an 'id' (got {shown(n)})")
        if "id" not in n:
            raise ScenarioError(f"{name}: 'nodes[{k}]' is missing field 'id'")
        if isinstance(n["id"], bool) or not isinstance(n["id"], (str, int)):
            raise ScenarioError(f"{name}: 'nodes[{k}].id' must be a string or an integer (got {shown(n['id'])})")
        ids.append(str(n["id"]))
        pos = n.get("pos")
        if pos is not None:
            if not isinstance(pos, (list, tuple)) or len(pos) != 2:
                raise ScenarioError(f"{name}: 'nodes[{k}].pos' must be [x, y] (got {shown(pos)})")
            pos = [_number(p, f"nodes[{k}].pos") for p in pos]
        positions.append(pos)
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ScenarioError(f"{name}: duplicate node id {dup!r} in 'nodes'")
    index = {nid: k for k, nid in enumerate(ids)}
    links, pairs, cap, lat = [], {}, [], []
    for k, link in enumerate(data["links"]):
        if not isinstance(link, dict):
            raise ScenarioError(f"{name}: 'links[{k}]' must be an object with 'u' and 'v' (got {shown(link)})")
        for f in ("u", "v"):
            if f not in link:
                raise ScenarioError(f"{name}: 'links[{k}]' is missing field '{f}'")
            if isinstance(link[f], bool) or not isinstance(link[f], (str, int)) or str(link[f]) not in index:
                raise ScenarioError(f"{name}: 'links[{k}].{f}' = {shown(link[f])} is not a node id")
        u, v = index[str(link["u"])], index[str(link["v"])]
        if u == v:
            raise ScenarioError(f"{name}: 'links[{k}]' is a self-loop at {ids[u]!r}")
        if (min(u, v), max(u, v)) in pairs:
            raise ScenarioError(f"{name}: 'links[{k}]' duplicates link {ids[u]}-{ids[v]}")
        pairs[(min(u, v), max(u, v))] = k
        links.append((u, v))
        cap.append(
            None if link.get("capacity") is None else _number(link["capacity"], f"links[{k}].capacity", positive=True)
        )
        lat.append(None if link.get("latency") is None else _number(link["latency"], f"links[{k}].latency"))
    scenarios = []
    failures = data.get("failure_scenarios")
    if failures is not None and not isinstance(failures, list):
        raise ScenarioError(f"{name}: 'failure_scenarios' must be a list (got {shown(failures)})")
    for k, sc in enumerate(failures or []):
        if not isinstance(sc, dict) or not isinstance(sc.get("failed_links", []), list):
            raise ScenarioError(f"{name}: 'failure_scenarios[{k}]' must be an object with a list 'failed_links'")
        failed = []
        for j, pair in enumerate(sc.get("failed_links", [])):
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or any(isinstance(p, bool) or not isinstance(p, (str, int)) or str(p) not in index for p in pair)
            ):
                raise ScenarioError(
                    f"{name}: 'failure_scenarios[{k}].failed_links[{j}]' = {shown(pair)} is not a pair of node ids"
                )
            key = tuple(sorted(index[str(p)] for p in pair))
            if key not in pairs:
                raise ScenarioError(f"{name}: 'failure_scenarios[{k}].failed_links[{j}]' = {shown(pair)} is not a link")
            failed.append(pairs[key])
        scenarios.append(tuple(failed))
    has_pos = all(p is not None for p in positions)
    pos = np.asarray(positions, dtype=float) if has_pos else None
    arr = np.asarray(links, dtype=np.int64)
    length = np.hypot(*(pos[arr[:, 0]] - pos[arr[:, 1]]).T) if has_pos else None
    return Topology(
        name,
        tuple(ids),
        arr,
        capacity=np.asarray(cap, dtype=float) if all(c is not None for c in cap) else None,
        latency=np.asarray(lat, dtype=float) if all(t is not None for t in lat) else None,
        length=length,
        positions=pos,
        failure_scenarios=tuple(scenarios),
        source=source or name,
    )


@lru_cache(maxsize=64)
def _topohub_graph(key: str) -> dict:
    try:
        import topohub

        with warnings.catch_warnings():  # topohub leaves its JSON file open (ResourceWarning); not ours to fix
            warnings.simplefilter("ignore", ResourceWarning)
            return topohub.get(key)
    except Exception as exc:
        raise ScenarioError(
            f"topohub has no topology {key!r} ({exc}); packaged ones: {', '.join(PACKAGED)}, "
            "or give the path of a JSON topology file"
        ) from None


def _from_topohub(key: str) -> Topology:
    g = _topohub_graph(key)
    ids = [n["id"] for n in g["nodes"]]
    pos = {nid: k for k, nid in enumerate(ids)}
    links, lengths, seen = [], [], set()
    for e in g["edges"]:
        u, v = pos[e["source"]], pos[e["target"]]
        if u == v or (min(u, v), max(u, v)) in seen:
            continue
        seen.add((min(u, v), max(u, v)))
        links.append((u, v))
        lengths.append(e.get("dist"))
    length = (
        np.asarray(lengths, dtype=float)
        if all(d is not None for d in lengths)
        else np.asarray([1.0 if d is None else float(d) for d in lengths])
        if any(d is not None for d in lengths)
        else None
    )
    if length is not None and (~np.isfinite(length) | (length < 0)).any():
        k = int(np.flatnonzero(~np.isfinite(length) | (length < 0))[0])
        raise ScenarioError(f"topohub {key!r}: link {k} has an invalid length {length[k]!r}")
    return Topology(
        key,
        tuple(str(n.get("name", n["id"])) for n in g["nodes"]),
        np.asarray(links, dtype=np.int64).reshape(-1, 2),
        length=length,
        source=key,
    )


def read_topology(source: str | Path) -> Topology:
    """A packaged topology (``b4``, ``geant``, ``att``), a JSON file (a path ending in ``.json`` or an existing
    file) or a topohub key; see the module docstring."""
    text = str(source)
    key = text.lower()
    if key in PACKAGED:
        from importlib import resources

        raw = resources.files("netctrl").joinpath("data", "topologies", f"{key}.json").read_text()
        return topology_from_dict(json.loads(raw), key, source=key)
    path = Path(text)
    if path.suffix.lower() == ".json" or path.is_file():
        data = read_json(path, what="topology file")
        default = data.get("name", path.stem) if isinstance(data, dict) else path.stem
        try:
            return topology_from_dict(data, default, source=str(path))
        except ScenarioError as exc:
            raise ScenarioError(f"{path}: {exc}") from None
    return _from_topohub(text)


__all__ = ["PACKAGED", "Topology", "read_topology", "topology_from_dict", "travel_time_steps", "undirected_arcs"]
