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
from itertools import pairwise
from pathlib import Path

import numpy as np

from ...errors import ScenarioError
from ...files import MAX_NESTING, read_text, shown
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
    m = max(1, int(round(density * len(pairs))))  # noqa: RUF046 -- with NumPy < 2, round(np.float64) is a float
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


def sample_instance(
    rng: np.random.Generator,
    n_range=(10, 20),
    density_range=(0.1, 0.2),
    budget_max=3,
    omega_range=(0, 3),
    phi_range=(1, 3),
    lam_range=(0, 3),
) -> MCNInstance:
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
    depth = deepest = 0
    for ch in text:  # literal_eval recurses: refuse deep nesting up front
        depth += ch in "([{"
        depth -= ch in ")]}"
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise ScenarioError(f"Expected '{key}' to be a flat list, but its brackets nest {deepest} levels deep")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ScenarioError(f"Could not parse '{key}' as a Python-style list (got {text[:60]!r}...)") from exc


def _is_label(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_instance(text: str, budgets: tuple[int, int, int] | None = None, name: str = "") -> MCNInstance:
    """Parse the public MCN text format; ``budgets`` default to the ones encoded in ``name``.

    Node labels (any integers) are mapped to ``0..n-1`` in increasing order and kept as the instance's
    ``labels`` (solutions are reported by label); the statistics lines (``value  #label``) are kept in
    ``stats`` of the returned instance's ``opt`` (``#opt``) only.

    >>> inst = parse_instance("V = [10, 20, 30]\\nA = [(10, 20), (20, 30)]", budgets=(0, 1, 0))
    >>> inst.edges, inst.labels
    (((0, 1), (1, 2)), (10, 20, 30))
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
    bad = [lab for lab in labels if not _is_label(lab)]
    if bad:
        raise ScenarioError(f"Expected the node labels in 'V' to be integers (got {shown(bad[0])})")
    order = sorted(labels)
    index = {lab: i for i, lab in enumerate(order)}
    if len(index) != len(labels):
        dup = next(lab for lab, nxt in pairwise(order) if lab == nxt)
        raise ScenarioError(f"Expected the node labels in 'V' to be distinct (got {dup} twice)")
    if not isinstance(arcs, list):
        raise ScenarioError(f"Expected 'A' to be a list of arcs (label, label) (got {fields['A'][:40]!r})")
    edges = []
    for k, arc in enumerate(arcs):
        if not (isinstance(arc, tuple) and len(arc) == 2 and all(_is_label(x) and x in index for x in arc)):
            raise ScenarioError(
                f"Expected each arc in 'A' to be a pair of labels from 'V' (got {shown(arc)} at position {k})"
            )
        if arc[0] == arc[1]:
            raise ScenarioError(f"Expected no self-loop in 'A' (got {arc!r} at position {k})")
        edges.append((index[arc[0]], index[arc[1]]))
    if budgets is None:
        budgets = budgets_from_name(name)
    if budgets is None:
        raise ScenarioError(f"No budgets given and none encoded in the name {name!r} (expected '..._O-F-L_...')")
    opt = None
    if "opt" in stats:
        try:
            opt = round(float(stats["opt"]))
        except (ValueError, OverflowError) as exc:
            raise ScenarioError(f"Expected '#opt' to be a finite number (got {stats['opt']!r})") from exc
    return MCNInstance(len(labels), edges, *map(int, budgets), name=name, opt=opt, labels=order)


def read_instance(path, budgets: tuple[int, int, int] | None = None) -> MCNInstance:
    """Read a public-format instance file (budgets from the file name unless given)."""
    path = Path(path)
    try:
        return parse_instance(read_text(path, what="MCN instance file"), budgets=budgets, name=path.name)
    except ScenarioError as exc:
        raise ScenarioError(exc if str(exc).startswith(str(path)) else f"{path}: {exc}") from None


def format_instance(
    inst: MCNInstance, opt: int | None = None, solution: tuple | None = None, stats: dict | None = None
) -> str:
    """Write ``inst`` in the public text format, with its own node labels (``1..n`` for a generated instance);
    ``solution = (D, I, P)`` node lists (node indices ``0..n-1``)."""
    label = (lambda v: v + 1) if inst.labels is None else inst.label_of
    lines = []
    for label, value in (stats or {}).items():
        lines.append(f"{value!s:<16}#{label}")
    if opt is not None or inst.opt is not None:
        lines.append(f"{(opt if opt is not None else inst.opt)!s:<16}#opt")
    lines.append("")
    lines.append("V = [" + ", ".join(str(label(v)) for v in range(inst.n)) + "]")
    arcs = []
    for u, v in inst.edges:
        arcs += [f"({label(u)}, {label(v)})", f"({label(v)}, {label(u)})"]
    lines.append("A = [" + ", ".join(arcs) + "]")
    if solution is not None:
        for key, nodes in zip(("Z_dad", "Y_dad", "X_dad"), solution):
            lines.append(f"{key} = [" + ", ".join(str(label(v)) for v in nodes) + "]")
    return "\n".join(lines) + "\n"
