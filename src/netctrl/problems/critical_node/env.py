"""The Multilevel Critical Node game as an *instance -> solution* problem
(:class:`~netctrl.controllers.InstanceProblem`).

Description
    One episode is one instance: ``reset(seed=s)`` returns the :class:`~netctrl.problems.critical_node.game.MCNInstance`
    of seed ``s`` (drawn from a distribution, or the one instance of a file); the controller answers with a line
    of play for all three players, an :class:`MCNSolution` (the vaccinated, infected and protected nodes);
    ``step(solution)`` replays it through the game's rules and scores it.

Observation
    The instance (graph and budgets ``omega``, ``phi``, ``lambda``).

Action
    An :class:`MCNSolution` (or a dict / triple of node lists). The lists are played in order: vaccinations,
    infections, protections, each player spending its whole budget while it has a legal node (the game's rule);
    an illegal or incomplete line raises :class:`~netctrl.errors.ActionError` naming the node or the player.

Reward
    The nodes saved at the end of that line of play. For the exact solver's line it is the game's value (the
    defender's optimum against the best attack); a weaker attacker saves more, a weaker defender fewer, so
    learned play is judged by its gap to the exact value, ``|v - v*| / v*`` (the benchmark's measure). ``info``
    holds ``saved`` and the three sets, by node label: an instance file's own labels (``V = [...]``), ``0..n-1``
    for a generated instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...controllers import InstanceProblem
from ...errors import ActionError
from .game import MCNInstance, bits


@dataclass(frozen=True)
class MCNSolution:
    """A line of play: the nodes each player places, in order."""

    vaccinated: tuple[int, ...] = ()
    infected: tuple[int, ...] = ()
    protected: tuple[int, ...] = ()

    @classmethod
    def of(cls, solution) -> MCNSolution:
        """An :class:`MCNSolution` from itself, a dict with the three keys or a triple of node lists."""
        if isinstance(solution, MCNSolution):
            return solution
        if isinstance(solution, dict):
            unknown = set(solution) - {"vaccinated", "infected", "protected"}
            if unknown:
                raise ActionError(
                    f"unknown key {sorted(unknown)[0]!r} in the solution; expected vaccinated, infected, protected"
                )
            return cls(*(tuple(solution.get(k, ())) for k in ("vaccinated", "infected", "protected")))
        if isinstance(solution, (tuple, list)) and len(solution) == 3:
            return cls(*(tuple(s) for s in solution))
        raise ActionError(f"expected an MCNSolution, a dict or a triple of node lists (got {type(solution).__name__})")

    @classmethod
    def of_state(cls, state) -> MCNSolution:
        """The line of play that reached a finished :class:`MCNState`."""
        return cls(tuple(bits(state.D)), tuple(bits(state.I)), tuple(bits(state.P)))


def play_solution(inst: MCNInstance, solution) -> tuple[int, MCNSolution]:
    """``(saved nodes, solution)`` of a line of play, checked move by move against the game's rules."""
    sol = MCNSolution.of(solution)
    s = inst.initial_state()
    for player, nodes in (("vaccinator", sol.vaccinated), ("attacker", sol.infected), ("protector", sol.protected)):
        for v in nodes:
            if s.player != player:
                raise ActionError(
                    f"the solution's {player} places node {v!r} but it is the "
                    f"{s.player or 'end of the game'}'s turn (budgets {inst.omega}-{inst.phi}-{inst.lam})"
                )
            s = s.play(v)
    if s.stage is not None:
        raise ActionError(
            f"the solution leaves the {s.player} budget it could spend (a player spends its whole "
            f"budget while it has a legal node; budgets {inst.omega}-{inst.phi}-{inst.lam})"
        )
    return s.value_if_over(), sol


class MCNProblem(InstanceProblem):
    """MCN instances (``instance(seed)``) scored by :func:`play_solution`; see the module docstring."""

    def __init__(self, instance: Callable[[int | None], MCNInstance]) -> None:
        super().__init__()
        self._instance = instance

    def instance(self, seed: int | None) -> MCNInstance:
        return self._instance(seed)

    def score(self, instance: MCNInstance, solution) -> tuple[float, dict]:
        saved, sol = play_solution(instance, solution)
        label = instance.label_of  # the file's own node labels (0..n-1 for a generated instance)
        return float(saved), {
            "saved": saved,
            "vaccinated": [label(v) for v in sol.vaccinated],
            "infected": [label(v) for v in sol.infected],
            "protected": [label(v) for v in sol.protected],
        }
