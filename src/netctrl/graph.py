"""``FlowNetwork``: the directed graph every netctrl problem is defined on.

Nodes are ``0..num_nodes-1``; edges are a ``(2, num_edges)`` integer array (row 0 = tail/source, row 1 =
head/target, PyG's convention). Node and edge attributes are named NumPy arrays whose first dimension is the
number of nodes or edges. The class validates itself on construction and converts to networkx and to PyTorch
Geometric ``Data``.

>>> net = FlowNetwork(3, [[0, 1, 2], [1, 2, 0]], edge_attr={"capacity": [1.0, 2.0, 3.0]})
>>> net
FlowNetwork(num_nodes=3, num_edges=3, node_attr=[], edge_attr=['capacity'])
>>> net.incidence().toarray().astype(int).tolist()
[[-1, 0, 1], [1, -1, 0], [0, 1, -1]]
>>> net.to_pyg().edge_index.tolist()
[[0, 1, 2], [1, 2, 0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import GraphError

#: attribute names that must never be negative
NON_NEGATIVE_ATTRS = ("capacity", "travel_time", "cost", "length", "bandwidth", "latency", "reb_time")


class FlowNetwork:
    """A directed graph with typed node/edge attributes.

    Args:
        num_nodes: number of nodes ``n``.
        edge_index: ``(2, m)`` array-like of ``(source, target)`` pairs.
        node_attr: mapping name -> array with first dimension ``n``.
        edge_attr: mapping name -> array with first dimension ``m``.
        node_names: optional labels (e.g. region ids of a scenario), used in error messages.
        allow_self_loops: accept ``(i, i)`` edges (off by default).
        require_connected: ``"strong"``, ``"weak"`` or ``None``.

    Raises:
        GraphError: naming the offending field and value.
    """

    def __init__(
        self,
        num_nodes: int,
        edge_index,
        *,
        node_attr: Mapping[str, Iterable] | None = None,
        edge_attr: Mapping[str, Iterable] | None = None,
        node_names: list | None = None,
        allow_self_loops: bool = False,
        require_connected: str | None = None,
    ) -> None:
        if int(num_nodes) != num_nodes or num_nodes <= 0:
            raise GraphError(f"Expected 'num_nodes' to be a positive integer (got {num_nodes!r})")
        self.num_nodes = int(num_nodes)
        ei = np.asarray(edge_index)
        if ei.size == 0:
            ei = ei.reshape(2, 0)
        if ei.ndim != 2 or ei.shape[0] != 2:
            raise GraphError(f"Expected 'edge_index' to have shape (2, num_edges) (got {ei.shape})")
        if not np.issubdtype(ei.dtype, np.integer) and not np.all(np.equal(np.mod(ei, 1), 0)):
            raise GraphError("Expected 'edge_index' to hold integers")
        self.edge_index = ei.astype(np.int64)
        self.node_names = list(node_names) if node_names is not None else list(range(self.num_nodes))
        if len(self.node_names) != self.num_nodes:
            raise GraphError(f"Expected {self.num_nodes} 'node_names' (got {len(self.node_names)})")
        self.node_attr = {k: self._attr(k, v, self.num_nodes, "node") for k, v in (node_attr or {}).items()}
        self.edge_attr = {k: self._attr(k, v, self.num_edges, "edge") for k, v in (edge_attr or {}).items()}
        self._validate(allow_self_loops, require_connected)

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _attr(name: str, value, n: int, kind: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0 or arr.shape[0] != n:
            raise GraphError(f"Expected {kind} attribute '{name}' to have first dimension {n} (got shape {arr.shape})")
        if not np.all(np.isfinite(arr)):
            raise GraphError(f"Expected {kind} attribute '{name}' to be finite (found NaN or inf)")
        if name in NON_NEGATIVE_ATTRS and (arr < 0).any():
            k = int(np.flatnonzero((arr < 0).reshape(n, -1).any(axis=1))[0])
            raise GraphError(
                f"Expected {kind} attribute '{name}' to be non-negative "
                f"(got {arr.reshape(n, -1)[k].tolist()} at {kind} {k})"
            )
        return arr

    def _validate(self, allow_self_loops: bool, require_connected: str | None) -> None:
        src, dst = self.edge_index
        if self.num_edges and (self.edge_index.min() < 0 or self.edge_index.max() >= self.num_nodes):
            bad = int(np.flatnonzero((self.edge_index < 0) | (self.edge_index >= self.num_nodes))[0] % self.num_edges)
            raise GraphError(
                f"Expected 'edge_index' entries in [0, {self.num_nodes - 1}] "
                f"(got edge {bad} = ({self.name(src[bad])}, {self.name(dst[bad])}))"
            )
        if not allow_self_loops and (src == dst).any():
            k = int(np.flatnonzero(src == dst)[0])
            raise GraphError(f"Self-loop at node {self.name(src[k])} (edge {k}); self-loops are not allowed here")
        keys = src * self.num_nodes + dst
        if np.unique(keys).size != keys.size:
            _, first, counts = np.unique(keys, return_index=True, return_counts=True)
            k = int(first[counts > 1][0])
            raise GraphError(f"Duplicate edge ({self.name(src[k])}, {self.name(dst[k])})")
        if require_connected is not None:
            if require_connected not in ("strong", "weak"):
                raise ValueError(
                    f"Expected 'require_connected' in ('strong', 'weak', None) (got {require_connected!r})"
                )
            n_comp, labels = sp.csgraph.connected_components(
                self.adjacency(), directed=True, connection=require_connected
            )
            if n_comp > 1:
                comp = [self.name(i) for i in np.flatnonzero(labels != labels[0])[:5]]
                raise GraphError(
                    f"Graph is not {require_connected}ly connected: {n_comp} components; "
                    f"e.g. node(s) {comp} cannot be reached from node {self.name(0)}"
                )

    def name(self, i) -> str:
        """The label of node ``i`` (for messages)."""
        i = int(i)
        return str(self.node_names[i]) if 0 <= i < self.num_nodes else str(i)

    # ------------------------------------------------------------------ structure
    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def sources(self) -> np.ndarray:
        return self.edge_index[0]

    @property
    def targets(self) -> np.ndarray:
        return self.edge_index[1]

    def adjacency(self, weight: str | None = None) -> sp.csr_matrix:
        """Sparse ``n x n`` adjacency matrix (entries = ``edge_attr[weight]`` or 1)."""
        w = np.ones(self.num_edges) if weight is None else self.edge_attr[weight]
        return sp.csr_matrix((w, (self.sources, self.targets)), shape=(self.num_nodes, self.num_nodes))

    def incidence(self) -> sp.csr_matrix:
        """Node-arc incidence matrix ``B`` (``n x m``): ``+1`` at the head, ``-1`` at the tail of each edge.

        ``B @ flow`` is the net inflow of every node.
        """
        m = self.num_edges
        rows = np.concatenate([self.targets, self.sources])
        cols = np.concatenate([np.arange(m), np.arange(m)])
        vals = np.concatenate([np.ones(m), -np.ones(m)])
        return sp.csr_matrix((vals, (rows, cols)), shape=(self.num_nodes, m))

    def out_degree(self) -> np.ndarray:
        return np.bincount(self.sources, minlength=self.num_nodes)

    def in_degree(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=self.num_nodes)

    def edge_id(self) -> dict[tuple[int, int], int]:
        """Map ``(source, target) -> edge position``."""
        return {(int(u), int(v)): k for k, (u, v) in enumerate(self.edge_index.T)}

    def symmetrized(self) -> FlowNetwork:
        """Add the reverse of every edge that lacks one (reverse edges copy the attributes)."""
        have = set(map(tuple, self.edge_index.T.tolist()))
        extra = [k for k, (u, v) in enumerate(self.edge_index.T.tolist()) if (v, u) not in have]
        if not extra:
            return self
        ei = np.concatenate([self.edge_index, self.edge_index[::-1, extra]], axis=1)
        ea = {k: np.concatenate([v, v[extra]]) for k, v in self.edge_attr.items()}
        return FlowNetwork(self.num_nodes, ei, node_attr=self.node_attr, edge_attr=ea, node_names=self.node_names)

    # ------------------------------------------------------------------ conversion
    def to_networkx(self):
        """A ``networkx.DiGraph`` with the attributes copied onto nodes and edges."""
        import networkx as nx

        g = nx.DiGraph()
        for i in range(self.num_nodes):
            g.add_node(i, name=self.node_names[i], **{k: v[i] for k, v in self.node_attr.items()})
        for k, (u, v) in enumerate(self.edge_index.T.tolist()):
            g.add_edge(u, v, **{a: val[k] for a, val in self.edge_attr.items()})
        return g

    @classmethod
    def from_networkx(
        cls, g, *, edge_attrs: Iterable[str] = (), node_attrs: Iterable[str] = (), **kwargs
    ) -> FlowNetwork:
        """Build from a networkx graph (undirected graphs get both edge directions); nodes are relabelled 0..n-1."""
        nodes = list(g.nodes)
        pos = {u: i for i, u in enumerate(nodes)}
        pairs: list[tuple[int, int]] = []
        ea: dict[str, list[Any]] = {a: [] for a in edge_attrs}
        directed = g.is_directed()
        for u, v, d in g.edges(data=True):
            for a, b in ((u, v),) if directed else ((u, v), (v, u)):
                pairs.append((pos[a], pos[b]))
                for name in edge_attrs:
                    if name not in d:
                        raise GraphError(f"Edge ({a}, {b}) lacks attribute '{name}'")
                    ea[name].append(d[name])
        na = {}
        for name in node_attrs:
            missing = [u for u in nodes if name not in g.nodes[u]]
            if missing:
                raise GraphError(f"Node {missing[0]} lacks attribute '{name}'")
            na[name] = [g.nodes[u][name] for u in nodes]
        ei = np.array(pairs, dtype=np.int64).T if pairs else np.zeros((2, 0), dtype=np.int64)
        return cls(len(nodes), ei, node_attr=na, edge_attr=ea, node_names=nodes, **kwargs)

    def to_pyg(self, x=None, edge_features: Iterable[str] | None = None):
        """PyTorch Geometric ``Data`` with ``edge_index``, optional node features ``x`` and ``edge_attr``.

        Args:
            x: node feature array ``(n, F)``; default: the node attributes stacked as columns (or none).
            edge_features: names of edge attributes stacked into ``edge_attr``; default: all of them.
        """
        import torch
        from torch_geometric.data import Data

        if x is None and self.node_attr:
            x = np.column_stack([v.reshape(self.num_nodes, -1) for v in self.node_attr.values()])
        names = list(self.edge_attr) if edge_features is None else list(edge_features)
        ea = np.column_stack([self.edge_attr[k].reshape(self.num_edges, -1) for k in names]) if names else None
        data = Data(
            x=None if x is None else torch.as_tensor(np.asarray(x), dtype=torch.float32),
            edge_index=torch.as_tensor(self.edge_index, dtype=torch.long),
            edge_attr=None if ea is None else torch.as_tensor(ea, dtype=torch.float32),
            num_nodes=self.num_nodes,
        )
        data.validate(raise_on_error=True)
        return data

    def __repr__(self) -> str:
        return (
            f"FlowNetwork(num_nodes={self.num_nodes}, num_edges={self.num_edges}, "
            f"node_attr={list(self.node_attr)}, edge_attr={list(self.edge_attr)})"
        )
