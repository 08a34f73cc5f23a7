"""MCN controllers that need no training: the exact solver, a greedy degree heuristic and random play.

Each acts on an instance and returns a line of play (:class:`~netctrl.problems.critical_node.env.MCNSolution`).
"""

from __future__ import annotations

from ...controllers import Controller, SeededController
from .env import MCNSolution
from .exact import ExactSolver
from .game import MCNInstance


class ExactController(Controller):
    """The exact three-level search (:class:`~netctrl.problems.critical_node.exact.ExactSolver`): the game's
    value and one optimal line of play. ``time_limit`` (s): give up with a
    :class:`~netctrl.errors.SolverError` beyond it."""

    name = "exact"

    def __init__(self, time_limit: float | None = None) -> None:
        self.time_limit = time_limit

    def act(self, instance: MCNInstance) -> MCNSolution:
        res = ExactSolver(instance, time_limit=self.time_limit).solve_state(instance.initial_state())
        s = instance.initial_state()
        for v in (*res.vaccinated, *res.infected, *res.protected):
            s = s.play(v)
        # The search stops protecting once the value is reached, but the rules make every player spend its whole
        # budget while it has a legal node: spend the protector's rest on the lowest legal nodes (protecting
        # more never saves fewer, so the value is the solver's).
        while s.stage is not None and s.player == "protector":
            s = s.play(min(s.legal_moves()))
        return MCNSolution.of_state(s)


def _play(inst: MCNInstance, choose) -> MCNSolution:
    """Play every move with ``choose(state, legal nodes) -> node``."""
    s = inst.initial_state()
    while s.stage is not None:
        s = s.play(choose(s, s.legal_moves()))
    return MCNSolution.of_state(s)


class DegreeHeuristic(Controller):
    """Greedy by degree: the vaccinator and the attacker take the free node with the most free neighbours; the
    protector takes the free node with the most infected neighbours (ties: the most free neighbours, then the
    lowest index)."""

    name = "degree"

    def act(self, instance: MCNInstance) -> MCNSolution:
        def choose(s, moves):
            free = instance.full & ~(s.D | s.I | s.P)
            infected = s.infected_now()

            def key(v):
                nb = instance.adj[v]
                return ((nb & infected).bit_count() if s.stage == 2 else 0, (nb & free).bit_count(), -v)

            return max(moves, key=key)

        return _play(instance, choose)


class RandomPlay(SeededController):
    """Every player places uniformly random legal nodes (its own generator, seeded)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)

    def act(self, instance: MCNInstance) -> MCNSolution:
        return _play(instance, lambda s, moves: moves[int(self.rng.integers(len(moves)))])


def baselines_for(time_limit: float | None = None):
    """``baselines(seed)``: fresh exact, degree and random controllers (the exact one capped at ``time_limit``)."""

    def baselines(seed: int = 0) -> dict:
        return {"exact": ExactController(time_limit), "degree": DegreeHeuristic(), "random": RandomPlay(seed)}

    return baselines


__all__ = ["DegreeHeuristic", "ExactController", "RandomPlay", "baselines_for"]
