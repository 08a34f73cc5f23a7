"""MCN states as graphs for a value network, and the game interface the learning algorithms use.

A state's value is ``offset + size * y`` where ``y`` in ``[0, 1]`` is what the network predicts: vaccinated and
protected nodes can never be infected, so they are removed from the graph and counted in ``offset`` (as in
the reference implementation, which deletes vaccinated nodes); once the attacker has no budget left, the
components the infection cannot reach are saved for sure and removed too. The network sees the remaining
graph ``H`` (``size`` nodes) with, per node:

=====  =====================================================================
index  feature
=====  =====================================================================
0      infected (attacked)
1      would be infected if nobody moved again (spread from the attacked nodes)
2      degree in ``H`` / 10
3      size of its component in ``H`` / 20
4      constant 1
5      split gain: ``|C| - 1 -`` the largest component of ``C - v`` (``C``: its component), / 20
6      protection gain: nodes the infection would no longer reach if ``v`` were protected, / 20
=====  =====================================================================

Features 3, 5 and 6 are what one move at ``v`` changes at once (infect, vaccinate, protect); the network
learns how the moves combine over the remaining budget.

and graph-level features ``[omega, phi, lam] / 3``, ``size / 20`` and the one-hot stage (vaccinate / infect /
protect / over). The features do not depend on node numbering.

These ``"absolute"`` features (the first published checkpoints use them) leave the training range on
graphs larger than the 10-20-node training graphs: on a 100-node graph of 5 % density the component size reads
about 5 and ``size / 20`` reads 5 where training never saw more than 1, the experts' outputs saturate (every
afterstate of the attacker valued about the same), and the attacker infects nodes the protector can cut off.
``features="relative"`` (:data:`FEATURE_SETS`) is size-invariant: the absolute counts are clipped (the degree
at 10, sizes and gains at 20, so on a 10-20-node graph they differ from the absolute features only at a degree
above 10), and fractions of the remaining graph are added, which mean the same at any size:

=====  =====================================================================
index  feature (``"relative"``)
=====  =====================================================================
0-1    as above
2      ``min(degree, 10) / 10``
3      ``min(component size, 20) / 20``
4      constant 1
5-6    split and protection gains as above, clipped at 20, / 20
7      degree / the largest degree in ``H``
8      component size / ``size``
9      split gain / ``size``
10     protection gain / ``size``
=====  =====================================================================

with graph-level ``size / 20`` clipped at 1; the value network of a ``"relative"`` game reads out with mean
instead of sum pooling (:attr:`CriticalNodeGame.readout`), so that no input grows with the graph.

``features="hybrid"`` has the same node and graph features as ``"relative"`` but keeps the sum read-out of
``"absolute"`` on graphs of up to 20 nodes (read-out ``"capsum"`` of
:class:`netctrl.policies.value.ValueNet`: the sums times ``min(1, 20 / size)``), so on the 10-20-node
training graphs its network sees the absolute features (up to degrees above 10) plus the four fractions, pooled
as the absolute network pools them. The network predicts the saved *fraction* ``y`` of the remaining graph
(the value is ``offset + size * y``), so a plain sum read-out would leak the graph size into a size-free target:
on a 100-node graph its sums read about five times what training saw. Beyond 20 nodes the capped sums are
``20 / 10`` times the means, inside the training range.

``features="clipped"`` is ``"hybrid"`` without the four fractions: the absolute counts clipped, with the capped
sum read-out. On graphs of up to 20 nodes whose degrees do not exceed 10 its network computes exactly what an
absolute network computes, so an absolute checkpoint may be played with it unchanged
(:data:`SAME_ON_TRAINING_GRAPHS`): it only changes what the network sees beyond 20 nodes.

The default is ``"hybrid"`` (:data:`DEFAULT_FEATURES`): on the benchmark's test instances it gave smaller gaps
than ``"absolute"`` for every controller on 10-20-node graphs and removed the break-downs on larger ones
(docs/problems/critical-node.md).

>>> from netctrl.problems.critical_node.instances import random_instance
>>> game = CriticalNodeGame()
>>> s = random_instance(10, 0.3, (1, 1, 1), seed=0).initial_state()
>>> batch, offset, size = game.encode([s])
>>> tuple(batch.x.shape), float(offset[0]), float(size[0])
((10, 11), 0.0, 10.0)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from ...errors import ConfigError
from .game import MCNInstance, MCNState, bits, spread
from .instances import sample_instance

NODE_FEATURES = 7
GRAPH_FEATURES = 8
DEFAULT_FEATURES = "hybrid"
"""feature set of ``CriticalNodeGame()``, ``netctrl train critical-node`` and the benchmark"""
FEATURE_SETS = {
    "absolute": NODE_FEATURES,
    "relative": NODE_FEATURES + 4,
    "hybrid": NODE_FEATURES + 4,
    "clipped": NODE_FEATURES,
}
"""node features per feature set (``CriticalNodeGame(features=...)``); all have :data:`GRAPH_FEATURES`"""
READOUT = {"absolute": "sum", "relative": "mean", "hybrid": "capsum", "clipped": "capsum"}
"""read-out of the value network per feature set (:class:`netctrl.policies.value.ValueNet`)"""
SAME_ON_TRAINING_GRAPHS = {("absolute", "clipped")}
"""pairs of feature sets whose networks compute the same function on graphs of up to 20 nodes with degrees up
to 10, so that a network trained with the first may be played with the second
(``load_learned`` of ``benchmarks/critical_node.py``)"""


def _pop(x: int) -> int:
    return bin(x).count("1")


def encode_state(s: MCNState, features: str = DEFAULT_FEATURES):
    """``(x, edge_index, graph_features, offset, size)`` of one state (numpy arrays); ``features``: a key of
    :data:`FEATURE_SETS` (see the module docstring)."""
    if features not in FEATURE_SETS:
        raise ConfigError(f"Expected 'features' in {sorted(FEATURE_SETS)} (got {features!r})")
    inst, adj = s.inst, s.inst.adj
    blocked = s.D | s.P
    keep = inst.full & ~blocked
    infected_now = spread(list(adj), s.I, blocked)
    if s.omega == 0 and s.phi == 0:
        keep &= infected_now  # the components holding an infected node; the others are saved
    nodes = list(bits(keep))
    index = {v: k for k, v in enumerate(nodes)}
    size = len(nodes)
    offset = inst.n - size
    src, dst, deg = [], [], np.zeros(size)
    for v in nodes:
        nb = adj[v] & keep
        for w in bits(nb):
            src.append(index[v])
            dst.append(index[w])
        deg[index[v]] = _pop(nb)
    adjl = list(adj)
    outside = inst.full & ~keep
    comp, split, pgain = np.zeros(size), np.zeros(size), np.zeros(size)
    left = keep
    while left:
        low = left & -left
        c = spread(adjl, low, outside)
        pc = _pop(c)
        for v in bits(c):
            comp[index[v]] = pc
            if pc > 2:
                rest, biggest = c & ~(1 << v), 0
                while rest:
                    lo = rest & -rest
                    part = spread(adjl, lo, outside | (1 << v))
                    biggest = max(biggest, _pop(part))
                    rest &= ~part
                split[index[v]] = pc - 1 - biggest
        left &= ~c
    n_inf = _pop(infected_now & keep)
    for v in bits(infected_now & keep & ~s.I):
        pgain[index[v]] = n_inf - _pop(spread(adjl, s.I, blocked | (1 << v)))
    x = np.zeros((size, FEATURE_SETS[features]), dtype=np.float32)
    for v in bits(s.I & keep):
        x[index[v], 0] = 1.0
    for v in bits(infected_now & keep):
        x[index[v], 1] = 1.0
    x[:, 4] = 1.0
    g = np.zeros(GRAPH_FEATURES, dtype=np.float32)
    g[:3] = np.array([s.omega, s.phi, s.lam]) / 3.0
    if features == "absolute":
        x[:, 2] = deg / 10.0
        x[:, 3] = comp / 20.0
        x[:, 5] = split / 20.0
        x[:, 6] = pgain / 20.0
        g[3] = size / 20.0
    else:
        x[:, 2] = np.minimum(deg, 10) / 10.0
        x[:, 3] = np.minimum(comp, 20) / 20.0
        x[:, 5] = np.minimum(split, 20) / 20.0
        x[:, 6] = np.minimum(pgain, 20) / 20.0
        if size and x.shape[1] > NODE_FEATURES:
            x[:, 7] = deg / max(1.0, float(deg.max()))
            x[:, 8] = comp / size
            x[:, 9] = split / size
            x[:, 10] = pgain / size
        g[3] = min(size, 20) / 20.0
    g[4 + (3 if s.stage is None else s.stage)] = 1.0
    return x, np.array([src, dst], dtype=np.int64).reshape(2, -1), g, offset, size


class CriticalNodeGame:
    """The MCN seen by :mod:`netctrl.algos.curriculum`: sample states of a given total budget, list afterstates,
    exact values of finished games, batched graph encoding.

    Args:
        n_range: nodes of the sampled graphs (inclusive).
        density_range: edge density of the sampled graphs.
        budget_ranges: ranges of ``omega``, ``phi``, ``lam`` of the sampled instances (the reference D1
            distribution: ``omega in 0..3``, ``phi in 1..3``, ``lam in 0..3``).
        features: ``"hybrid"`` (the default: the relative features with the sum read-out capped at 20
            nodes), ``"absolute"`` (the first published feature set), ``"relative"`` (size-invariant, see the
            module docstring) or ``"clipped"`` (hybrid without the fractions); saved in checkpoints
            as :attr:`encoding` and checked when they are loaded.
    """

    def __init__(
        self,
        n_range=(10, 20),
        density_range=(0.1, 0.2),
        budget_ranges=((0, 3), (1, 3), (0, 3)),
        features: str = DEFAULT_FEATURES,
    ):
        if features not in FEATURE_SETS:
            raise ConfigError(f"Expected 'features' in {sorted(FEATURE_SETS)} (got {features!r})")
        self.n_range = tuple(n_range)
        self.density_range = tuple(density_range)
        self.budget_ranges = tuple(tuple(b) for b in budget_ranges)
        self.features = features

    legacy_encoding: ClassVar[dict[str, str]] = {"features": "absolute"}
    """the encoding of checkpoints written before encodings were recorded (read by
    :func:`netctrl.algos.curriculum.load_value_function`)"""

    @property
    def encoding(self) -> dict:
        """What a value network trained on this game depends on (stored in checkpoints)."""
        return {"features": self.features}

    @property
    def readout(self) -> str:
        """Pooling of the value network's read-out: ``"sum"`` (absolute features), ``"mean"`` (relative) or
        ``"capsum"`` (hybrid, clipped), see :data:`READOUT`."""
        return READOUT[self.features]

    # the interface used by the algorithms
    @staticmethod
    def budget(s: MCNState) -> int:
        return s.budget_left

    @staticmethod
    def maximizing(s: MCNState) -> bool:
        return s.maximizing

    @staticmethod
    def afterstates(s: MCNState) -> list:
        return s.afterstates()

    @staticmethod
    def final_value(s: MCNState) -> float:
        return float(s.value_if_over())

    @staticmethod
    def initial_state(instance: MCNInstance) -> MCNState:
        """The start of the game on an instance (what a learned value function plays from)."""
        return instance.initial_state()

    @staticmethod
    def solution(s: MCNState):
        """The line of play (an :class:`~netctrl.problems.critical_node.env.MCNSolution`) of a finished game."""
        from .env import MCNSolution

        return MCNSolution.of_state(s)

    def sample_instance(self, rng: np.random.Generator) -> MCNInstance:
        (o, f, l_) = self.budget_ranges
        return sample_instance(rng, self.n_range, self.density_range, 3, o, f, l_)

    def sample_state(self, rng: np.random.Generator, budget: int) -> MCNState:
        """A state with ``budget`` moves left: a sampled instance with at least that much budget, played forward
        by random moves (each game: uniform, or biased towards high-degree nodes as good players' moves are)."""
        max_total = sum(hi for _, hi in self.budget_ranges)
        if not 1 <= budget <= max_total:
            raise ValueError(f"Expected 'budget' in 1..{max_total} (got {budget})")
        while True:
            s = self.sample_instance(rng).initial_state()
            if s.budget_left < budget:
                continue
            biased = rng.random() < 0.5
            while s.budget_left > budget:
                moves = s.legal_moves()
                if biased:
                    free = s.inst.full & ~(s.D | s.P)
                    w = np.array([1.0 + bin(s.inst.adj[v] & free).count("1") ** 2 for v in moves])
                    s = s.play(moves[int(rng.choice(len(moves), p=w / w.sum()))])
                else:
                    s = s.play(moves[int(rng.integers(len(moves)))])
            if s.budget_left == budget:
                return s

    def encode_each(self, states) -> list:
        """Per-state encodings (numpy), to be cached and joined by :meth:`collate`."""
        return [encode_state(s, self.features) for s in states]

    @staticmethod
    def collate(encodings):
        """A PyG batch (``u``: graph features) of encoded states, with their value offsets and graph sizes."""
        from torch_geometric.data import Batch

        xs, eis, us, batch, offsets, sizes, shift = [], [], [], [], [], [], 0
        for k, (x, ei, g, off, size) in enumerate(encodings):
            xs.append(x)
            eis.append(ei + shift)
            us.append(g)
            batch.append(np.full(size, k, dtype=np.int64))
            offsets.append(off)
            sizes.append(size)
            shift += size
        b = Batch(
            x=torch.from_numpy(np.concatenate(xs)),
            edge_index=torch.from_numpy(np.concatenate(eis, axis=1)),
            u=torch.from_numpy(np.stack(us)),
            batch=torch.from_numpy(np.concatenate(batch)),
        )
        return b, torch.tensor(offsets, dtype=torch.float32), torch.tensor(sizes, dtype=torch.float32)

    def encode(self, states):
        """:meth:`collate` of :meth:`encode_each`."""
        return self.collate(self.encode_each(states))
