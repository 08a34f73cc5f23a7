"""The Multilevel Critical Node game (MCN): defender vaccinates, attacker infects, defender protects.

``game`` (instance, sequential state, spread), ``instances`` (random graphs, trees, the public text format),
``exact`` (the exact three-level search), ``env`` (the game as an instance -> solution problem),
``baselines`` (exact, degree heuristic, random) and ``features`` (states as PyG graphs for the learned value
functions, :mod:`netctrl.algos.curriculum`, trained by the recipes of :mod:`netctrl.recipes.curriculum`).

Registered problems: ``critical_node/d1`` (random graphs of 10-20 nodes, edge density 0.1-0.2, budgets
``omega in 0..3, phi in 1..3, lambda in 0..3``: the reference D1 distribution, one instance per seed) and
``critical_node/rnd05-<n>`` for ``n`` in 40, 60, 80, 100 (5 % density, the public budget triples by seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ConfigError, ScenarioError
from ...registry import Family, ProblemSpec, register_family, register_problem
from .baselines import DegreeHeuristic, ExactController, RandomPlay, baselines_for
from .env import MCNProblem, MCNSolution, play_solution
from .exact import ExactResult, ExactSolver, solve
from .features import DEFAULT_FEATURES, CriticalNodeGame
from .game import PLAYERS, MCNInstance, MCNState, bits, spread
from .instances import (
    budgets_from_name,
    format_instance,
    parse_instance,
    random_instance,
    random_tree,
    read_instance,
    sample_instance,
)

__all__ = [
    "PLAYERS",
    "PUBLIC_BUDGETS",
    "DegreeHeuristic",
    "ExactController",
    "ExactResult",
    "ExactSolver",
    "MCNInstance",
    "MCNProblem",
    "MCNSettings",
    "MCNSolution",
    "MCNState",
    "RandomPlay",
    "bits",
    "budgets_from_name",
    "format_instance",
    "parse_instance",
    "play_solution",
    "random_instance",
    "random_tree",
    "read_instance",
    "sample_instance",
    "solve",
    "spread",
]

PUBLIC_BUDGETS = ((1, 1, 1), (2, 2, 2), (3, 1, 3), (1, 3, 3), (3, 3, 1), (3, 3, 3))
"""the budget triples ``omega-phi-lambda`` of the public random-graph instances."""
LARGE_SIZES = (40, 60, 80, 100)


@dataclass(frozen=True)
class MCNSettings:
    """Budgets and the exact baseline's time cap."""

    omega: int | None = None
    """vaccination budget of every instance (``None``: the instance's or the distribution's own)."""
    phi: int | None = None
    """infection budget (``None``: the instance's own)."""
    lam: int | None = None
    """protection budget (``None``: the instance's own)."""
    exact_time_limit: float | None = 600.0
    """seconds after which the ``exact`` baseline gives up with a :class:`~netctrl.errors.SolverError`
    (``None``: never; the search is exponential in the budgets: a 60-node 3-3-3 instance can take hours)."""

    def __post_init__(self) -> None:
        for name in ("omega", "phi", "lam"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ConfigError(f"'{name}' >= 0 expected (got {v})")
        if self.exact_time_limit is not None and not self.exact_time_limit > 0:
            raise ConfigError(f"'exact_time_limit' > 0 expected (got {self.exact_time_limit})")

    def apply(self, inst: MCNInstance) -> MCNInstance:
        if self.omega is None and self.phi is None and self.lam is None:
            return inst
        b = [
            inst.omega if self.omega is None else self.omega,
            inst.phi if self.phi is None else self.phi,
            inst.lam if self.lam is None else self.lam,
        ]
        return inst.with_budgets(*b)


#: MultiL-Cur and MultiL-DQN train on the D1 distribution (the game's defaults), whatever the instance
RECIPES = {"multil-cur": {}, "multil-dqn": {}}


def problem(
    name: str,
    instance,
    settings: MCNSettings,
    *,
    source: str | None = None,
    description: str = "",
    rebuild=None,
    test_seeds=tuple(range(1000, 1100)),
    val_seeds=tuple(range(2000, 2050)),
) -> ProblemSpec:
    """The problem spec of MCN instances ``instance(seed) -> MCNInstance`` (with ``settings``' budgets)."""

    def make_env():
        return MCNProblem(lambda seed: settings.apply(instance(seed)))

    return ProblemSpec(
        name=name,
        make_env=make_env,
        baselines=baselines_for(settings.exact_time_limit),
        kind="instance",
        test_seeds=tuple(test_seeds),
        val_seeds=tuple(val_seeds),
        reference="exact",
        gap_to_reference=True,
        description=description,
        recipes={k: dict(v) for k, v in RECIPES.items()},
        hooks={"game": lambda features=DEFAULT_FEATURES: CriticalNodeGame(features=features)},
        settings=settings,
        source=source,
        rebuild=rebuild,
    )


def _d1(settings: MCNSettings) -> ProblemSpec:
    game = CriticalNodeGame()
    return problem(
        "critical_node/d1",
        lambda seed: game.sample_instance(np.random.default_rng(seed)),
        settings,
        description="MCN on random graphs of 10-20 nodes (the reference D1 distribution)",
        rebuild=_d1,
    )


def _rnd05(n: int, settings: MCNSettings) -> ProblemSpec:
    def instance(seed):
        s = 0 if seed is None else int(seed)
        b = PUBLIC_BUDGETS[s % len(PUBLIC_BUDGETS)]
        return random_instance(n, 0.05, b, seed=s, name=f"rnd05-{n}_{b[0]}-{b[1]}-{b[2]}_{s}")

    return problem(
        f"critical_node/rnd05-{n}",
        instance,
        settings,
        test_seeds=range(1000, 1006),
        val_seeds=range(2000, 2006),
        rebuild=lambda s: _rnd05(n, s),
        description=f"MCN on {n}-node random graphs of 5 % density, the public budget triples by seed",
    )


def _user(source: str, settings: MCNSettings) -> ProblemSpec:
    given = (settings.omega, settings.phi, settings.lam)
    if None in given and budgets_from_name(source) is None:
        raise ScenarioError(
            f"{source}: no budgets in the file name (expected '..._O-F-L_...'); give all three with "
            "--set omega=.. --set phi=.. --set lam=.."
        )
    inst = read_instance(source, budgets=None if None in given else given)  # read and validated now
    return problem(
        f"critical_node/{Path(source).stem}",
        lambda seed: inst,
        settings,
        source=source,
        test_seeds=(0,),
        val_seeds=(0,),
        rebuild=lambda s: _user(source, s),
        description=f"MCN on the instance {source}",
    )


def _register() -> None:
    register_family(
        Family(
            "critical_node",
            "multilevel critical node game: vaccinate, infect, protect nodes of a graph (trilevel)",
            kind="instance",
            settings=MCNSettings,
            loader=_user,
            source_option="instance",
            source_help="an instance in the public MCN text format (V = [...], A = [...]); budgets from its name "
            "(..._1-2-3_...) or --set omega=.. phi=.. lam=..",
        )
    )
    register_problem(_d1(MCNSettings()))
    for n in LARGE_SIZES:
        register_problem(_rnd05(n, MCNSettings()))


_register()
