"""The Multilevel Critical Node game (MCN): instance, state, spread, one-node-per-move dynamics.

A defender-attacker-defender game on an undirected graph ``G = (V, E)``: the defender *vaccinates* up to
``omega`` nodes (set ``D``), the attacker *infects* up to ``phi`` of the others (set ``I``), the defender then
*protects* up to ``lam`` nodes (set ``P``) outside ``D`` and ``I``; the infection spreads from ``I`` along every
edge to any node neither vaccinated nor protected. The value is the number of saved (never infected) nodes,

.. math::  \\max_{|D| \\le \\Omega} \\; \\min_{|I| \\le \\Phi} \\; \\max_{|P| \\le \\Lambda} \\;
           |V| - |\\mathrm{reach}_{G - D - P}(I)|.

Sets are bit masks over the nodes (bit ``v`` = node ``v``), which keeps the exact solver and the afterstate
enumeration fast. A :class:`MCNState` is the position of the sequential game in which each move places one
node: vaccinations first, then infections, then protections (the order is the game's, so the same set of
moves in another order reaches the same state).

>>> inst = MCNInstance(4, [(0, 1), (1, 2), (2, 3)], omega=0, phi=1, lam=1)
>>> s = inst.initial_state().play(1)          # attacker infects node 1
>>> s.player, s.play(2).value_if_over()       # protector protects node 2: nodes 1 and 0 are lost
('protector', 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ActionError, ScenarioError

PLAYERS = ("vaccinator", "attacker", "protector")


def bits(mask: int):
    """The node indices set in ``mask``, in increasing order.

    >>> list(bits(0b10110))
    [1, 2, 4]
    """
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def spread(adj: list[int], infected: int, blocked: int) -> int:
    """Nodes reached from ``infected`` through nodes not in ``blocked`` (the infected set after spreading).

    >>> spread([0b10, 0b101, 0b010], infected=0b001, blocked=0b100)
    3
    """
    reach = infected & ~blocked
    frontier = reach
    while frontier:
        new = 0
        for v in bits(frontier):
            new |= adj[v]
        frontier = new & ~reach & ~blocked
        reach |= frontier
    return reach


@dataclass(frozen=True)
class MCNInstance:
    """An MCN instance: ``n`` nodes ``0..n-1``, undirected ``edges`` and the budgets.

    Args:
        n: number of nodes.
        edges: undirected edges ``(u, v)``, ``u != v`` (duplicates and both directions are merged).
        omega: vaccination budget of the defender (first move).
        phi: infection budget of the attacker.
        lam: protection budget of the defender (last move).
        name: a label (file name, generator parameters).
        opt: a published optimal value (number of saved nodes), when the instance comes with one.
        labels: the node labels of the instance's file (node ``v`` is ``labels[v]``); ``None`` for a generated
            instance, whose nodes are ``0..n-1``. Solutions are reported by label (:meth:`label_of`).
    """

    n: int
    edges: tuple
    omega: int
    phi: int
    lam: int
    name: str = ""
    opt: int | None = None
    labels: tuple | None = field(default=None, repr=False, compare=False)
    adj: tuple = field(init=False, repr=False, compare=False)

    def __init__(self, n, edges, omega, phi, lam, name="", opt=None, labels=None):
        if not isinstance(n, int) or n < 1:
            raise ScenarioError(f"Expected 'n' to be a positive integer (got {n!r})")
        for key, b in (("omega", omega), ("phi", phi), ("lam", lam)):
            if not isinstance(b, int) or b < 0:
                raise ScenarioError(f"Expected budget '{key}' to be a non-negative integer (got {b!r})")
        canon = set()
        for e in edges:
            if len(e) != 2:
                raise ScenarioError(f"Expected each edge to be a pair of nodes (got {e!r})")
            u, v = int(e[0]), int(e[1])
            if not (0 <= u < n and 0 <= v < n):
                raise ScenarioError(f"Expected edge endpoints in 0..{n - 1} (got {e!r})")
            if u == v:
                raise ScenarioError(f"Expected no self-loops (got edge {e!r})")
            canon.add((min(u, v), max(u, v)))
        adj = [0] * n
        for u, v in canon:
            adj[u] |= 1 << v
            adj[v] |= 1 << u
        if labels is not None:
            labels = tuple(labels)
            if len(labels) != n or len(set(labels)) != n:
                raise ScenarioError(
                    f"Expected 'labels' to be {n} distinct node labels (got {len(labels)}, {len(set(labels))} distinct)"
                )
        for name_, val in (
            ("n", n),
            ("edges", tuple(sorted(canon))),
            ("omega", omega),
            ("phi", phi),
            ("lam", lam),
            ("name", name),
            ("opt", opt),
            ("labels", labels),
            ("adj", tuple(adj)),
        ):
            object.__setattr__(self, name_, val)

    def label_of(self, v: int):
        """The label of node ``v``: its label in the instance's file, or ``v`` itself for a generated instance."""
        return v if self.labels is None else self.labels[v]

    @property
    def full(self) -> int:
        return (1 << self.n) - 1

    @property
    def budgets(self) -> tuple[int, int, int]:
        return (self.omega, self.phi, self.lam)

    def with_budgets(self, omega: int, phi: int, lam: int) -> MCNInstance:
        return MCNInstance(self.n, self.edges, omega, phi, lam, name=self.name, labels=self.labels)

    def to_networkx(self):
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        g.add_edges_from(self.edges)
        return g

    def saved(self, vaccinated: int, infected: int, protected: int) -> int:
        """Saved nodes once the infection from ``infected`` has spread (sets as bit masks)."""
        return self.n - spread(list(self.adj), infected, vaccinated | protected).bit_count()

    def initial_state(self) -> MCNState:
        return MCNState(self, 0, 0, 0, self.omega, self.phi, self.lam)


@dataclass(frozen=True)
class MCNState:
    """A position of the sequential game: the sets placed so far and the budgets left.

    The player to move is the first with budget left and a legal node (vaccinator, then attacker, then
    protector); a budget that no node can use any more is dropped, so a state with no legal move is over.
    """

    inst: MCNInstance
    D: int
    I: int
    P: int
    omega: int
    phi: int
    lam: int

    def __post_init__(self):
        # drop budgets that cannot be spent (fewer candidate nodes than budget never hurts: spend them all)
        o, f, l_ = self.omega, self.phi, self.lam
        if o and not self._cand(0):
            o = 0
        if f and not self._cand(1):
            f = 0
        if l_ and not self._cand(2):
            l_ = 0
        object.__setattr__(self, "omega", o)
        object.__setattr__(self, "phi", f)
        object.__setattr__(self, "lam", l_)

    def _cand(self, stage: int) -> int:
        used = self.D | self.I | self.P
        return self.inst.full & ~used

    @property
    def stage(self) -> int | None:
        """0 vaccinate, 1 infect, 2 protect, ``None`` when the game is over."""
        if self.omega:
            return 0
        if self.phi:
            return 1
        if self.lam:
            return 2
        return None

    @property
    def player(self) -> str | None:
        s = self.stage
        return None if s is None else PLAYERS[s]

    @property
    def maximizing(self) -> bool:
        return self.stage != 1

    @property
    def budget_left(self) -> int:
        return self.omega + self.phi + self.lam

    def legal_mask(self) -> int:
        return 0 if self.stage is None else self._cand(self.stage)

    def legal_moves(self) -> list[int]:
        return list(bits(self.legal_mask()))

    def play(self, v: int) -> MCNState:
        """The state after the player to move places node ``v``."""
        s = self.stage
        if s is None:
            raise ActionError("The game is over: no budget left to place a node")
        if not (isinstance(v, int) or hasattr(v, "__index__")) or not 0 <= int(v) < self.inst.n:
            raise ActionError(f"Expected a node in 0..{self.inst.n - 1} (got {v!r})")
        v = int(v)
        if not (self.legal_mask() >> v) & 1:
            raise ActionError(
                f"Node {v} cannot be chosen by the {PLAYERS[s]}: it is already vaccinated, infected or protected"
            )
        b = 1 << v
        if s == 0:
            return MCNState(self.inst, self.D | b, self.I, self.P, self.omega - 1, self.phi, self.lam)
        if s == 1:
            return MCNState(self.inst, self.D, self.I | b, self.P, 0, self.phi - 1, self.lam)
        return MCNState(self.inst, self.D, self.I, self.P | b, 0, 0, self.lam - 1)

    def afterstates(self) -> list[tuple[int, MCNState]]:
        return [(v, self.play(v)) for v in self.legal_moves()]

    def infected_now(self) -> int:
        """The nodes the infection would reach if nobody moved again."""
        return spread(list(self.inst.adj), self.I, self.D | self.P)

    def value_if_over(self) -> int:
        """Saved nodes of a finished game (raises if budget is left)."""
        if self.stage is not None:
            raise ActionError(f"The game is not over: the {self.player} still has budget")
        return self.inst.n - self.infected_now().bit_count()
