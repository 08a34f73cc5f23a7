"""Toll design: bi-level RL where the upper level tolls links and entropy-regularized routing agents respond.

``scenario`` (validated JSON loading, Pigou, Braess, topologies with generated demand and latencies),
``lower`` (the agents: soft Bellman, equilibrium with congestion, Jacobian, trajectory samples, unrolled
torch version), ``objectives`` (social cost, travel time, target flow), ``env`` (the design as an instance ->
solution problem) and ``baselines`` (no toll, marginal-cost toll, closed-form optimal tolls). The
hyper-gradient and the outer loop are in :mod:`netctrl.algos.hypergrad`, run by the recipe of
:mod:`netctrl.recipes.hypergrad`.

Registered problems: ``toll_design/pigou`` and ``toll_design/braess`` (one tollable link, closed-form optimal
toll), ``toll_design/b4``, ``toll_design/geant``, ``toll_design/att`` (every arc tollable, generated demand and
BPR latencies; social cost + ``0.1 |theta|^2``, temperature 0.5, as the benchmark's race).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, NetctrlError, require_integer, require_number
from ...files import read_json
from ...registry import Family, ProblemSpec, register_family, register_problem
from .baselines import (
    FixedTolls,
    MarginalCostToll,
    NoToll,
    baselines_for,
    braess_optimal_toll,
    marginal_cost_toll,
    pigou_optimal_toll,
)
from .env import TollProblem, check_tolls
from .lower import Equilibrium, Loading, RoutingAgents
from .objectives import OBJECTIVES, SocialCost, TargetFlow, TravelTime
from .scenario import TollScenario, braess, from_topology, load_scenario, pigou, scenario_from_dict

__all__ = [
    "OBJECTIVES",
    "Equilibrium",
    "FixedTolls",
    "Loading",
    "MarginalCostToll",
    "NoToll",
    "RoutingAgents",
    "SocialCost",
    "TargetFlow",
    "TollProblem",
    "TollScenario",
    "TollSettings",
    "TravelTime",
    "braess",
    "braess_optimal_toll",
    "check_tolls",
    "from_topology",
    "load_scenario",
    "marginal_cost_toll",
    "pigou",
    "pigou_optimal_toll",
    "scenario_from_dict",
]


@dataclass(frozen=True)
class TollSettings:
    """The agents' temperature, the objective, and the rules that make a toll scenario of a bare topology."""

    temperature: float | None = None
    """the agents' entropy weight (``None``: the scenario's own; 0.5 for a topology)."""
    objective: str = "social_cost"
    """``social_cost``, ``travel_time`` (the upper level's measure of the equilibrium flow)."""
    lam: float = 0.0
    """weight of the toll cost ``lam |theta|^2`` in the objective."""
    load: float = 1.0
    """a topology's demand scale (gravity model)."""
    capacity_factor: float = 0.6
    """a topology's link capacities relative to its free-flow loads."""
    seed: int = 0
    """seed of a topology's demand and capacities (not an episode seed)."""

    def __post_init__(self) -> None:
        for name in ("temperature", "lam", "load", "capacity_factor"):
            if getattr(self, name) is not None:
                require_number(name, getattr(self, name))
        require_integer("seed", self.seed)
        if self.temperature is not None and not self.temperature > 0:
            raise ConfigError(f"'temperature' > 0 expected (got {self.temperature})")
        if self.objective not in ("social_cost", "travel_time"):
            raise ConfigError(f"'objective' in ('social_cost', 'travel_time') expected (got {self.objective!r})")
        if self.lam < 0:
            raise ConfigError(f"'lam' >= 0 expected (got {self.lam})")
        if not self.load > 0 or not self.capacity_factor > 0:
            raise ConfigError(f"'load' and 'capacity_factor' > 0 expected (got {self.load}, {self.capacity_factor})")


RECIPES = {"hypergrad": {}}


def problem(
    name: str,
    scenario: TollScenario,
    settings: TollSettings,
    *,
    closed_form: float | None = None,
    source: str | None = None,
    description: str = "",
    rebuild=None,
) -> ProblemSpec:
    """The problem spec of a toll-design scenario (packaged and users' alike)."""
    all_tollable = len(scenario.toll_arcs) == scenario.num_arcs

    def make_env():
        return TollProblem(scenario, settings.objective, settings.lam)

    reference = "closed-form" if closed_form is not None else "marginal-cost" if all_tollable else None
    return ProblemSpec(
        name=name,
        make_env=make_env,
        baselines=baselines_for(closed_form),
        kind="instance",
        test_seeds=(0,),
        val_seeds=(0,),
        info_keys=("objective", "social_cost", "revenue"),
        reference=reference,
        description=description,
        recipes={k: dict(v) for k, v in RECIPES.items()},
        hooks={"scenario": scenario, "tolls": FixedTolls},
        settings=settings,
        source=source,
        rebuild=rebuild,
    )


def _closed(name: str, settings: TollSettings) -> ProblemSpec:
    tau = settings.temperature if settings.temperature is not None else {"pigou": 0.5, "braess": 0.2}[name]
    scen, star = (pigou(tau), pigou_optimal_toll()) if name == "pigou" else (braess(tau), braess_optimal_toll(tau))
    if settings.objective != "social_cost" or settings.lam:
        star = None  # the closed form is the social cost's optimum
    return problem(
        f"toll_design/{name}",
        scen,
        settings,
        closed_form=star,
        description=f"{name.capitalize()}'s network, one tollable link (closed-form optimal toll)",
        rebuild=lambda s: _closed(name, s),
    )


def _topology(key: str, settings: TollSettings, user: bool = False) -> ProblemSpec:
    tau = 0.5 if settings.temperature is None else settings.temperature
    scen = from_topology(
        key, temperature=tau, load=settings.load, capacity_factor=settings.capacity_factor, seed=settings.seed
    )
    name = Path(key).stem if key.lower().endswith(".json") else key
    return problem(
        f"toll_design/{name}",
        scen,
        settings,
        source=key if user else None,
        description=f"tolls on every arc of {key} (generated demand, BPR latencies)",
        rebuild=lambda s: _topology(key, s, user),
    )


def _user(source: str, settings: TollSettings) -> ProblemSpec:
    """A toll scenario JSON file (with ``demand``) or else a topology (a topology file or a topohub key)."""
    path = Path(source)
    if path.suffix.lower() == ".json":
        scen = load_scenario(path) if _is_toll_scenario(path) else None
        if scen is not None:
            if settings.temperature is not None:
                scen = scenario_from_dict(
                    {**read_json(path, what="scenario"), "temperature": settings.temperature}, name=scen.name
                )
            return problem(
                f"toll_design/{path.stem}",
                scen,
                settings,
                source=source,
                description=f"toll design on {source}",
                rebuild=lambda s: _user(source, s),
            )
    return _topology(source, settings, user=True)


def _is_toll_scenario(path: Path) -> bool:
    """Whether a JSON file is a toll scenario (it has ``demand``) rather than a bare topology; an unreadable file
    counts as a scenario, so that its error names it."""
    try:
        data = read_json(path, what="scenario")
    except NetctrlError:
        return True
    return not isinstance(data, dict) or "demand" in data


def _register() -> None:
    register_family(
        Family(
            "toll_design",
            "toll design: price links so that selfish (entropy-regularised) routing serves the system",
            kind="instance",
            settings=TollSettings,
            loader=_user,
            source_option="scenario",
            source_help="a toll scenario JSON file (nodes, links with latencies, demand, temperature) or a topology "
            "(file or topohub key: demand and latencies generated)",
        )
    )
    for name in ("pigou", "braess"):
        register_problem(_closed(name, TollSettings()))
    for key in ("b4", "geant", "att"):
        register_problem(_topology(key, TollSettings(lam=0.1)))


_register()
