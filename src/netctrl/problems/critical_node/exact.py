"""Exact MCN solver: a three-level alpha-beta search over node sets with bounds.

* **Protection** (innermost, ``max``): branch and bound on the infection frontier. With infected set ``X``
  (the attack plus nodes already decided to be infected) the frontier ``F`` is the set of unblocked
  neighbours of ``X``. If ``|F|`` is at most the budget left, protecting all of ``F`` saves every other node;
  otherwise pick ``v`` in ``F`` and branch: protect ``v``, or let ``v`` be infected. Every protection plan is
  covered (a protected node never adjacent to the final infected set can be dropped without changing the
  infection, so its budget is wasted), and ``n - |X| - (|F| - k)`` bounds the branch from above.
* **Attack** (``min``): all sets of ``min(phi, candidates)`` nodes, the most harmful first (nodes of large
  components of ``G - D``, high degree), each skipped when the lower bound
  ``n - |R| + min(lam, |R \\ I|)`` (``R``: the components it touches) cannot beat the best attack so far; the
  protection search stops as soon as it reaches the best attack value (that attack is then no better).
* **Vaccination** (outer ``max``): all sets of ``min(omega, candidates)`` nodes, high degree first; the attack
  search stops as soon as it finds an attack no better for the attacker than the best vaccination so far
  (alpha cut-off), trying first the attack that refuted the previous vaccination.

Budgets are spent in full (each player's value is monotone in its own set, tested), so only sets of the full
size are enumerated. The search is exact; its cost grows like ``C(n, omega) * C(n, phi)`` in the worst case, so
an optional ``time_limit`` makes it raise :class:`~netctrl.errors.SolverError` instead of running for hours.

>>> from netctrl.problems.critical_node.game import MCNInstance
>>> star = MCNInstance(5, [(0, 1), (0, 2), (0, 3), (0, 4)], omega=1, phi=1, lam=0)
>>> solve(star).value    # vaccinate the hub; the attacker then kills one leaf
4
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from ...errors import SolverError
from .game import MCNInstance, MCNState, bits, spread


def _pop(x: int) -> int:
    return x.bit_count()


@dataclass(frozen=True)
class ExactResult:
    """Optimal value (saved nodes) of a state, one optimal line of play and the search statistics."""

    value: int
    vaccinated: tuple
    infected: tuple
    protected: tuple
    wall_s: float
    protect_calls: int


class _Timeout(Exception):
    pass


class ExactSolver:
    """Exact values of MCN states of one instance (the adjacency bit masks are built once).

    Args:
        inst: the instance.
        time_limit: seconds after which :meth:`value` raises :class:`SolverError` (``None``: no limit).
    """

    def __init__(self, inst: MCNInstance, time_limit: float | None = None):
        self.inst = inst
        self.n = inst.n
        self.adj = list(inst.adj)
        self.deg = [_pop(a) for a in self.adj]
        self.time_limit = time_limit
        self.calls = 0
        self._deadline = None

    # ------------------------------------------------------------------------------------- protection
    def _nbrs(self, X: int) -> int:
        out = 0
        for v in bits(X):
            out |= self.adj[v]
        return out

    def protect(self, blocked: int, infected: int, k: int, beta: float = float("inf"), alpha: float = -float("inf")):
        """``max`` over protection sets of at most ``k`` nodes (not in ``blocked`` or ``infected``) of the saved
        nodes. Stops as soon as a value ``>= beta`` is found (then the value returned is only a lower bound);
        branches that cannot exceed ``alpha`` are pruned (a value ``<= alpha`` returned means only that).
        Returns ``(value, protected_mask)``."""
        self.calls += 1
        if self._deadline is not None and time.perf_counter() > self._deadline:
            raise _Timeout
        n, adj = self.n, self.adj
        X0 = spread(adj, infected, blocked) if k == 0 else infected & ~blocked
        if k == 0:
            return n - _pop(X0), 0
        best = [max(-1, alpha), 0]

        def rec(X: int, NX: int, blk: int, prot: int, k: int):
            F = NX & ~blk & ~X
            nf = _pop(F)
            if nf <= k:  # protect the whole frontier: every other node is saved
                val = n - _pop(X)
                if val > best[0]:
                    best[0], best[1] = val, prot | F
                return
            if k == 0:
                val = n - _pop(spread(adj, X, blk))
                if val > best[0]:
                    best[0], best[1] = val, prot
                return
            if n - _pop(X) - (nf - k) <= best[0]:
                return
            free = ~blk & ~X
            v, vd = -1, -1
            for u in bits(F):
                d = _pop(adj[u] & free)
                if d > vd:
                    v, vd = u, d
            b = 1 << v
            rec(X, NX, blk | b, prot | b, k - 1)
            if best[0] >= beta:
                return
            rec(X | b, NX | adj[v], blk, prot, k)

        rec(X0, self._nbrs(X0), blocked, 0, k)
        return best[0], best[1]

    # ----------------------------------------------------------------------------------------- attack
    def _components(self, blocked: int) -> list[int]:
        comps, left = [], self.inst.full & ~blocked
        while left:
            low = left & -left
            c = spread(self.adj, low, blocked)
            comps.append(c)
            left &= ~c
        return comps

    def attack(self, blocked: int, infected: int, phi: int, lam: int, alpha: float = -float("inf"), hint: tuple = ()):
        """``min`` over attacks of ``min(phi, candidates)`` more nodes of the protection value. Stops as soon as
        a value ``<= alpha`` is found. Returns ``(value, attack_mask, protect_mask)``."""
        cand = self.inst.full & ~blocked & ~infected
        r = min(phi, _pop(cand))
        if r == 0:
            v, p = self.protect(blocked, infected, lam)
            return v, 0, p
        comps = self._components(blocked)
        comp_of = {}
        for c in comps:
            for u in bits(c):
                comp_of[u] = c
        order = sorted(bits(cand), key=lambda u: (-_pop(comp_of[u]), -_pop(self.adj[u] & ~blocked), u))
        reach0 = 0
        for u in bits(infected & ~blocked):
            reach0 |= comp_of[u]
        best, best_i, best_p = float("inf"), 0, 0
        tried = set()
        first = [tuple(sorted(hint))] if hint and len(hint) == r and all((cand >> u) & 1 for u in hint) else []
        for combo in itertools.chain(first, itertools.combinations(order, r)):
            key = tuple(sorted(combo))
            if key in tried:
                continue
            if first:
                tried.add(key)
            imask, R = infected, reach0
            for u in combo:
                imask |= 1 << u
                R |= comp_of[u]
            lb = self.n - _pop(R) + min(lam, _pop(R & ~imask))
            if lb >= best:
                continue
            val, pmask = self.protect(blocked, imask, lam, beta=best, alpha=alpha)
            if val < best:
                best, best_i, best_p = val, imask & ~infected, pmask
                if best <= alpha:
                    break
        return best, best_i, best_p

    # ------------------------------------------------------------------------------------ vaccination
    def vaccinate(self, vaccinated: int, infected: int, protected: int, omega: int, phi: int, lam: int):
        """``max`` over vaccinations of ``min(omega, candidates)`` more nodes. Returns ``(value, D, I, P)`` masks
        of one optimal line of play (the new nodes only)."""
        blocked0 = vaccinated | protected
        cand = self.inst.full & ~blocked0 & ~infected
        r = min(omega, _pop(cand))
        if r == 0:
            v, i, p = self.attack(blocked0, infected, phi, lam)
            return v, 0, i, p
        order = sorted(bits(cand), key=lambda u: (-self.deg[u], u))
        # the attacker always infects min(phi, free nodes) nodes: nobody can do better than this
        best, best_d, hint = -1, 0, ()
        for combo in itertools.combinations(order, r):
            dmask = 0
            for u in combo:
                dmask |= 1 << u
            free_after = _pop(self.inst.full & ~blocked0 & ~dmask & ~infected)
            if free_after and self.n - _pop(infected) - min(phi, free_after) <= best:
                # even the attacker's smallest possible damage cannot beat the incumbent
                continue
            val, imask, _ = self.attack(blocked0 | dmask, infected, phi, lam, alpha=best, hint=hint)
            hint = tuple(bits(imask))
            if val > best:
                best, best_d = val, dmask
        # one optimal line of play below the best vaccination
        _, imask, pmask = self.attack(blocked0 | best_d, infected, phi, lam)
        return best, best_d, imask, pmask

    # -------------------------------------------------------------------------------------- entry point
    def solve_state(self, state: MCNState) -> ExactResult:
        """The exact value of ``state`` (the player to move and the followers play optimally)."""
        t0 = time.perf_counter()
        self.calls = 0
        self._deadline = None if self.time_limit is None else t0 + self.time_limit
        try:
            if state.stage == 0:
                val, d, i, p = self.vaccinate(state.D, state.I, state.P, state.omega, state.phi, state.lam)
            elif state.stage == 1:
                val, i, p = self.attack(state.D | state.P, state.I, state.phi, state.lam)
                d = 0
            else:
                val, p = self.protect(state.D | state.P, state.I, state.lam)
                d = i = 0
        except _Timeout:
            raise SolverError(
                f"exact MCN search on {self.inst.name or 'instance'} (n={self.n}, budgets "
                f"{state.omega}-{state.phi}-{state.lam}) exceeded its time limit of {self.time_limit:g} s; "
                "allow more with --set exact_time_limit=SECONDS (or none)"
            ) from None
        finally:
            self._deadline = None
        return ExactResult(
            int(val), tuple(bits(d)), tuple(bits(i)), tuple(bits(p)), time.perf_counter() - t0, self.calls
        )

    def value(self, state: MCNState) -> int:
        return self.solve_state(state).value


def solve(inst: MCNInstance, time_limit: float | None = None) -> ExactResult:
    """Solve ``inst`` exactly from its initial state."""
    return ExactSolver(inst, time_limit).solve_state(inst.initial_state())
