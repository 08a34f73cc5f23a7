"""MCN instances: random-graph and tree generators, and the public instance text format.

The public MCN instances (Baggio, Carvalho, Lodi, Tramontani, "Multilevel approaches for the critical node
problem"; github.com/mxmmargarida/Critical-Node-Problem) are plain text files, one instance per file::

    no              #fail
    17              #opt
    ...             (other solver statistics, ``value  #label``)

    V = [1, 2, ..., N]
    A = [(4, 12), (12, 4), ...]          (each undirected edge as both arcs)
    Z_dad = [10, 11]                     (vaccinated, protected and infected sets of the solution)
    Y_dad = [4, 17]
    X_dad = [6, 12]

The budgets are not in the file: they are encoded in its name, ``rndgraph05-20_2-2-2_001`` = random graph,
5 % density, 20 nodes, ``omega-phi-lambda = 2-2-2``, instance 1. :func:`read_instance` parses all of this;
:func:`format_instance` writes the same format (round trip tested).

>>> inst = random_instance(12, density=0.2, budgets=(1, 2, 1), seed=3)
>>> inst.n, inst.budgets
(12, (1, 2, 1))
>>> parse_instance(format_instance(inst, opt=9), budgets=(1, 2, 1)).edges == inst.edges
True
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

from ...errors import ScenarioError
from .game import MCNInstance

_BUDGETS_IN_NAME = re.compile(r"_(\d+)-(\d+)-(\d+)(?:_|$)")


# ---------------------------------------------------------------------------------------------- generators
def random_instance(n: int, density: float, budgets: tuple[int, int, int], seed=None, name: str = "") -> MCNInstance:
    """A G(n, m) random graph with ``m = round(density * n (n - 1) / 2)`` edges (at least one)."""
    if n < 2:
        raise ScenarioError(f"Expected 'n' >= 2 for a random graph (got {n})")
    if not 0.0 < density <= 1.0:
        raise ScenarioError(f"Expected 'density' in (0, 1] (got {density})")
    rng = np.random.default_rng(seed)
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    m = max(1, int(round(density * len(pairs))))
    pick = rng.choice(len(pairs), size=m, replace=False)
    edges = [pairs[i] for i in sorted(pick)]
    return MCNInstance(n, edges, *map(int, budgets), name=name or f"rnd-{n}-{density:.2f}-{seed}")


def random_tree(n: int, budgets: tuple[int, int, int], seed=None, name: str = "") -> MCNInstance:
    """A uniformly random labelled tree (random Pruefer sequence)."""
    if n < 2:
        raise ScenarioError(f"Expected 'n' >= 2 for a tree (got {n})")
    rng = np.random.default_rng(seed)
    import networkx as nx

    g = nx.from_prufer_sequence(list(rng.integers(0, n, size=n - 2))) if n > 2 else nx.path_graph(2)
    return MCNInstance(n, list(g.edges()), *map(int, budgets), name=name or f"tree-{n}-{seed}")


def sample_instance(rng: np.random.Generator, n_range=(10, 20), density_range=(0.1, 0.2), budget_max=3,
                    omega_range=(0, 3), phi_range=(1, 3), lam_range=(0, 3)) -> MCNInstance:
    """One instance of the distribution used for training and testing: ``n`` and the edge density uniform in
    their ranges, each budget uniform in its range (capped by ``budget_max``)."""
    n = int(rng.integers(n_range[0], n_range[1] + 1))
    d = float(rng.uniform(*density_range))
    b = [int(rng.integers(lo, min(hi, budget_max) + 1)) for lo, hi in (omega_range, phi_range, lam_range)]
    return random_instance(n, d, tuple(b), seed=int(rng.integers(2**31)))


# ------------------------------------------------------------------------------------------- text format
def budgets_from_name(name: str) -> tuple[int, int, int] | None:
    """``omega, phi, lambda`` encoded in a public instance's file name, or ``None``.

    >>> budgets_from_name("rndgraph05-80_3-3-3_001")
    (3, 3, 3)
    """
    m = _BUDGETS_IN_NAME.search(Path(name).name)
    return tuple(int(x) for x in m.groups()) if m else None


def _literal(text: str, key: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise ScenarioError(f"Could not parse '{key}' as a Python-style list (got {text[:60]!r}...)") from exc


def parse_instance(text: str, budgets: tuple[int, int, int] | None = None, name: str = "") -> MCNInstance:
    """Parse the public MCN text format; ``budgets`` default to the ones encoded in ``name``.

    Node labels (any integers) are mapped to ``0..n-1`` in increasing order; the statistics lines
    (``value  #label``) are kept in ``stats`` of the returned instance's ``opt`` (``#opt``) only.
    """
    fields, stats = {}, {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if "#" in line and "=" not in line:
            value, label = line.split("#", 1)
            stats[label.strip()] = value.strip()
            continue
        if "=" in line:
            key, val = line.split("=", 1)
            fields[key.strip()] = val.strip()
    for key in ("V", "A"):
        if key not in fields:
            raise ScenarioError(f"Expected a line '{key} = [...]' in the MCN instance {name or ''}".rstrip())
    labels = _literal(fields["V"], "V")
    arcs = _literal(fields["A"], "A")
    if not isinstance(labels, list) or not labels:
        raise ScenarioError(f"Expected 'V' to be a non-empty list of node labels (got {fields['V'][:40]!r})")
    index = {lab: i for i, lab in enumerate(sorted(labels))}
    if len(index) != len(labels):
        raise ScenarioError("Expected the node labels in 'V' to be distinct")
    edges = []
    for arc in arcs:
        if not (isinstance(arc, tuple) and len(arc) == 2) or arc[0] not in index or arc[1] not in index:
            raise ScenarioError(f"Expected each arc in 'A' to be a pair of labels from 'V' (got {arc!r})")
        edges.append((index[arc[0]], index[arc[1]]))
    if budgets is None:
        budgets = budgets_from_name(name)
    if budgets is None:
        raise ScenarioError(f"No budgets given and none encoded in the name {name!r} (expected '..._O-F-L_...')")
    opt = None
    if "opt" in stats:
        try:
            opt = int(round(float(stats["opt"])))
        except ValueError as exc:
            raise ScenarioError(f"Expected '#opt' to be a number (got {stats['opt']!r})") from exc
    return MCNInstance(len(labels), edges, *map(int, budgets), name=name, opt=opt)


def read_instance(path, budgets: tuple[int, int, int] | None = None) -> MCNInstance:
    """Read a public-format instance file (budgets from the file name unless given)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"MCN instance file not found: {path}")
    return parse_instance(path.read_text(), budgets=budgets, name=path.name)


def format_instance(inst: MCNInstance, opt: int | None = None, solution: tuple | None = None,
                    stats: dict | None = None) -> str:
    """Write ``inst`` in the public text format (labels ``1..n``); ``solution = (D, I, P)`` node lists."""
    lines = []
    for label, value in (stats or {}).items():
        lines.append(f"{value!s:<16}#{label}")
    if opt is not None or inst.opt is not None:
        lines.append(f"{(opt if opt is not None else inst.opt)!s:<16}#opt")
    lines.append("")
    lines.append("V = [" + ", ".join(str(v + 1) for v in range(inst.n)) + "]")
    arcs = []
    for u, v in inst.edges:
        arcs += [f"({u + 1}, {v + 1})", f"({v + 1}, {u + 1})"]
    lines.append("A = [" + ", ".join(arcs) + "]")
    if solution is not None:
        for key, nodes in zip(("Z_dad", "Y_dad", "X_dad"), solution):
            lines.append(f"{key} = [" + ", ".join(str(v + 1) for v in nodes) + "]")
    return "\n".join(lines) + "\n"
