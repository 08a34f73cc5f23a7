"""WAN packet routing under load and link failures (MAMRL, Sun, Kiran, Ren 2021) on B4, GEANT, AT&T, any topology.

``scenario`` (topologies with capacities and latencies, link-failure tasks), ``sim`` (numpy packet simulator),
``env`` (PettingZoo parallel env, one agent per router), ``baselines`` (shortest path, balanced routing,
Q-routing, random) and ``capacity`` (the load a network can carry). The learners (per-router policy gradient,
MAMRL) are in :mod:`netctrl.algos.mamrl`, trained by the recipes of :mod:`netctrl.recipes.routing`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, ScenarioError, require_integer
from ...registry import Family, ProblemSpec, register_family, register_problem
from .baselines import BalancedRouting, QRouting, baselines_for
from .env import RoutingParallelEnv, parallel_env
from .scenario import PACKAGED, RoutingTopology, load_topology, topology_from_dict
from .sim import ARRIVALS, AUTHORS_MODE, PacketSim, TickEvents, hazard_rate

__all__ = [
    "AUTHORS_MODE",
    "MAMRL_CONFIG",
    "PACKAGED",
    "PacketSim",
    "RoutingParallelEnv",
    "RoutingSettings",
    "RoutingTopology",
    "TickEvents",
    "hazard_rate",
    "load_topology",
    "meta_tasks",
    "parallel_env",
    "topology_from_dict",
]


#: upper bounds of the settings (beyond them an episode's packets or observations would not fit in memory)
MAX_LOAD = 1_000.0
MAX_HORIZON = 1_000_000
MAX_HISTORY = 1_000
MAX_BACKLOG = 10_000


@dataclass(frozen=True)
class RoutingSettings:
    """The traffic and the episode of a routing problem."""

    load: float = 0.3
    """new packets per router per tick (Poisson rate)."""
    horizon: int = 300
    """ticks per episode."""
    history: int = 5
    """own past actions in each router's observation."""
    failed_links: tuple[str, ...] = ()
    """links down in every episode, as ``"U-V"`` (node ids)."""
    arrivals: str = "poisson"
    """``poisson`` (``load`` new packets per router and tick on average) or ``hazard`` (the MAMRL authors' model:
    at most one per tick, see :mod:`netctrl.problems.routing.sim`)."""
    initial_backlog: tuple[int, ...] = (0, 0)
    """packets queued and in flight per router at the start of an episode (the authors': ``[5, 8]``)."""
    half_duplex: bool = False
    """the two directions of a link share its bandwidth (the authors' simulator)."""
    link_state: bool = False
    """routers flood the links they find down (a loss on an empty link) and the prior of a residual learner
    (``mamrl.prior``) is re-planned without them (:class:`~netctrl.problems.routing.env.RoutingParallelEnv`)."""

    def __post_init__(self) -> None:
        if isinstance(self.load, bool) or not isinstance(self.load, numbers.Real) or not 0 <= self.load <= MAX_LOAD:
            raise ConfigError(
                f"'load' must be a number in [0, {MAX_LOAD}] packets per router and tick (got {self.load!r})"
            )
        for name in ("horizon", "history"):
            require_integer(name, getattr(self, name))
        if not 1 <= self.horizon <= MAX_HORIZON:
            raise ConfigError(f"'horizon' in 1..{MAX_HORIZON} expected (got {self.horizon})")
        if not 0 <= self.history <= MAX_HISTORY:
            raise ConfigError(f"'history' in 0..{MAX_HISTORY} expected (got {self.history})")
        if not isinstance(self.failed_links, tuple) or not all(isinstance(x, str) for x in self.failed_links):
            raise ConfigError(f"'failed_links' must be a list of 'U-V' strings (got {self.failed_links!r})")
        if self.arrivals not in ARRIVALS:
            raise ConfigError(f"'arrivals' must be one of {', '.join(ARRIVALS)} (got {self.arrivals!r})")
        backlog = self.initial_backlog
        if (
            not isinstance(backlog, tuple)
            or len(backlog) != 2
            or not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= MAX_BACKLOG for b in backlog)
        ):
            raise ConfigError(
                f"'initial_backlog' must be [queued, in flight] per router, integers in 0..{MAX_BACKLOG} "
                f"(got {backlog!r})"
            )
        for name in ("half_duplex", "link_state"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"'{name}' must be true or false (got {getattr(self, name)!r})")

    def packet_rate(self) -> float:
        """New packets per router and tick on average (``load``, or the hazard's rate)."""
        return hazard_rate(self.load) if self.arrivals == "hazard" else float(self.load)

    def sim_options(self) -> dict:
        """The simulator's traffic and link options (:class:`~netctrl.problems.routing.sim.PacketSim`)."""
        return {"arrivals": self.arrivals, "initial_backlog": self.initial_backlog, "half_duplex": self.half_duplex}


def link_indices(topo: RoutingTopology, names) -> tuple[int, ...]:
    """Undirected link indices of ``"U-V"`` names (either order)."""
    index = {}
    for k in range(topo.num_links):
        u, v = topo.link_names([k])[0]
        index[(u, v)] = index[(v, u)] = k
    out = []
    for j, name in enumerate(names):
        parts = str(name).split("-")
        if len(parts) != 2 or tuple(parts) not in index:
            raise ScenarioError(
                f"'settings.failed_links[{j}]' = {name!r} is not a link of {topo.name} ('U-V' with "
                f"node ids, e.g. {'-'.join(topo.link_names([0])[0])!r})"
            )
        out.append(index[tuple(parts)])
    return tuple(out)


def meta_tasks(topo: RoutingTopology) -> list[tuple]:
    """The intact network and every connected single-link failure except the file's test scenarios."""
    test = set(topo.failure_scenarios)
    return [()] + [(lk,) for lk in range(topo.num_links) if (lk,) not in test and topo.surviving_connected((lk,))]


#: MAMRL's settings where they differ from :class:`~netctrl.algos.mamrl.MAMRLConfig`'s defaults: meta-training
#: starts from the imitation of the balanced routing (the recipe's teacher initialisation), which Adam's outer
#: steps at the online step size (1e-2) walked away from (B4, 3 min of MAML, validation seeds: 0.41x SPA's
#: delivery time at load 0.3 before, 0.82x after; 0.48x with 1e-3), and a smaller entropy bonus keeps the
#: teacher's choices
MAMRL_CONFIG = {"meta_lr": 1e-3, "entropy": 0.01}


def problem(
    name: str,
    topo: RoutingTopology,
    settings: RoutingSettings,
    *,
    source: str | None = None,
    description: str = "",
    rebuild=None,
) -> ProblemSpec:
    """The problem spec of a router network (the packaged ones and users' files alike)."""
    failed = link_indices(topo, settings.failed_links)

    def make_env():
        return RoutingParallelEnv(
            topo,
            load=settings.load,
            horizon=settings.horizon,
            failed_links=failed,
            history=settings.history,
            link_state=settings.link_state,
            **settings.sim_options(),
        )

    def task_env(task: tuple, horizon: int | None = None):
        """An environment with the links of ``task`` failed too (MAMRL's meta-training and adaptation)."""
        return RoutingParallelEnv(
            topo,
            load=settings.load,
            horizon=horizon or settings.horizon,
            failed_links=tuple(sorted(set(failed) | set(task))),
            history=settings.history,
            link_state=settings.link_state,
            **settings.sim_options(),
        )

    teacher = {}

    def teach(obs):
        if "balanced" not in teacher:  # one LP, solved on first use
            teacher["balanced"] = BalancedRouting(topo)
        return teacher["balanced"].probs(obs)

    return ProblemSpec(
        name=name,
        make_env=make_env,
        baselines=baselines_for(topo, settings.packet_rate()),
        kind="pettingzoo",
        info_keys=("lost", "delivered"),
        metric_keys=("delivery_time", "sojourn_time", "packets_lost", "throughput"),
        reference=None,
        description=description,
        recipes={"mamrl": {"mamrl": dict(MAMRL_CONFIG)}, "pg": {}, "q-routing": {}},
        hooks={
            "task_env": task_env,
            "tasks": lambda: meta_tasks(topo),
            "test_tasks": tuple(topo.failure_scenarios),
            "teacher": teach,
            "topology": topo,
            "q_routing": lambda eta=0.7, loss_penalty=200.0: QRouting(topo, eta=eta, loss_penalty=loss_penalty),
        },
        settings=settings,
        source=source,
        rebuild=rebuild,
    )


def _packaged(key: str, settings: RoutingSettings) -> ProblemSpec:
    return problem(
        f"routing/{key}",
        load_topology(key),
        settings,
        description=f"packet routing on {key.upper()} (MAMRL study topology)",
        rebuild=lambda s: _packaged(key, s),
    )


def _user(source: str, settings: RoutingSettings) -> ProblemSpec:
    return problem(
        f"routing/{Path(source).stem}",
        load_topology(source),
        settings,
        source=source,
        description=f"packet routing on {source}",
        rebuild=lambda s: _user(source, s),
    )


def _register() -> None:
    register_family(
        Family(
            "routing",
            "WAN packet routing: every router picks the next hop of its head packet (multi-agent)",
            kind="pettingzoo",
            settings=RoutingSettings,
            loader=_user,
            source_option="topology",
            source_help=(
                "a topology JSON file whose links have 'capacity' and integer 'latency' (see netctrl.topologies)"
            ),
        )
    )
    for key in PACKAGED:
        register_problem(_packaged(key, RoutingSettings()))


_register()
