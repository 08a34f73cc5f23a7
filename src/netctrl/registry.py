"""Plain registries: problem families, their instances (one :class:`ProblemSpec` each) and training recipes.

* A **family** (:class:`Family`) is a kind of network-control problem with its own files and settings:
  ``mobility``, ``supply_chain``, ``network_flow``, ``routing``, ``critical_node``, ``toll_design``. It knows how
  to turn a user's file (or a topohub key) plus settings into a problem (:meth:`Family.load`).
* An **instance** (:class:`ProblemSpec`) is one problem: its environment factory, baselines, lower levels,
  seeds, the info keys it reports and the recipes that can train a controller for it, with their defaults.
* A **recipe** (:class:`Recipe`) is a way of training a controller: a config dataclass, ``train(spec, cfg,
  run_dir, resume)`` and ``load(checkpoint, spec) -> Controller``.

``get_problem("mobility/nyc-brooklyn")`` normalises spelling and, for an unknown name, raises a
:class:`~netctrl.errors.ConfigError` listing the choices. Problem packages and recipes add themselves when
imported; this module imports none of them by name (the built-in ones are loaded by module path on first use).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .controllers import KINDS, Controller
from .errors import ConfigError

BUILTIN_FAMILIES = ("mobility", "supply_chain", "network_flow", "routing", "critical_node", "toll_design")
"""the problem packages shipped with netctrl (``netctrl.problems.<name>``)."""
BUILTIN_RECIPES = "netctrl.recipes"


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


# ------------------------------------------------------------------------------------------------ problems
@dataclass
class ProblemSpec:
    """Everything the CLI, the recipes, the benchmarks and the tests need to know about one problem instance."""

    name: str
    """``family/instance``, e.g. ``mobility/nyc_brooklyn``, ``supply_chain/1f2s``, ``routing/b4``."""
    make_env: Callable[[], Any]
    """``make_env()`` -> a fresh raw environment (or :class:`~netctrl.controllers.InstanceProblem`)."""
    baselines: Callable[[int], dict[str, Controller]]
    """``baselines(seed)`` -> fresh controllers by name (the ``reference`` one anchors the % column)."""
    kind: str = "gymnasium"
    """one of :data:`~netctrl.controllers.KINDS`."""
    env_id: str | None = None
    """the Gymnasium id of the raw environment, where it has one."""
    lowers: dict[str, Callable[[Any], object]] = field(default_factory=dict)
    """lower levels by name (``"lp"``: the bi-level one), built from an environment."""
    test_seeds: tuple[int, ...] = tuple(range(1000, 1010))
    """evaluation seeds shared by every controller (never used for training or selection)."""
    val_seeds: tuple[int, ...] = tuple(range(2000, 2005))
    """validation seeds used during training to pick the best checkpoint."""
    info_keys: tuple[str, ...] = ()
    """``info`` entries summed over an episode and reported next to the reward."""
    metric_keys: tuple[str, ...] = ()
    """entries of the environment's ``episode_metrics()`` reported next to the reward (averaged over episodes)."""
    reference: str | None = "oracle"
    """the baseline the % column refers to (``pct_of_<reference>``); ``None``: no such column."""
    gap_to_reference: bool = False
    """also report ``gap_pct``, the mean relative deviation from the reference episode by episode (for games
    whose every player one controller plays, where a deviation either way is an error)."""
    description: str = ""
    recipes: dict[str, dict] = field(default_factory=dict)
    """recipe name -> this instance's defaults for its config (a nested dict by config section); the recipes
    that apply to the instance, the first one the default."""
    hooks: dict[str, Any] = field(default_factory=dict)
    """what particular recipes need besides the environment, by name (each recipe documents its own): an
    ``expert`` for imitation, ``train_envs`` (several graphs), the failure ``tasks`` of meta-learning..."""
    settings: Any = None
    """the family's settings (a dataclass) this instance was built with."""
    source: str | None = None
    """what the instance was built from when it is not packaged (a file path or a topohub key)."""
    rebuild: Callable[[Any], ProblemSpec] | None = None
    """``rebuild(settings)`` -> the same instance with other settings (see :meth:`with_settings`)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"{self.name}: 'kind' must be one of {sorted(KINDS)} (got {self.kind!r})")

    @property
    def family(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def pct_key(self) -> str:
        """The name of the % column: ``pct_of_oracle``, ``pct_of_exact``..."""
        return f"pct_of_{_key(self.reference or 'reference')}"

    @property
    def default_recipe(self) -> str | None:
        return next(iter(self.recipes), None)

    def make_lower(self, name: str, env: Any):
        if name not in self.lowers:
            raise ConfigError(f"{self.name}: unknown lower level {name!r}; choose one of {sorted(self.lowers)}")
        return self.lowers[name](env)

    def with_settings(self, **overrides: Any) -> ProblemSpec:
        """The same instance with some of the family's settings changed (validated: an unknown key or a bad value
        raises :class:`~netctrl.errors.ConfigError` naming it)."""
        if not overrides:
            return self
        if self.settings is None or self.rebuild is None:
            raise ConfigError(f"{self.name} has no settings to change (got {sorted(overrides)})")
        from .config import build

        current = dataclasses.asdict(self.settings)
        return self.rebuild(build(type(self.settings), overrides, where="settings.", defaults=current))

    def identity(self) -> dict:
        """What a checkpoint records about the problem it was trained on."""
        return {
            "name": self.name,
            "family": self.family,
            "source": self.source,
            "settings": None if self.settings is None else _plain(dataclasses.asdict(self.settings)),
        }


def _plain(value):
    """Tuples -> lists, recursively (what a checkpoint or a TOML file can hold)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class Family:
    """A problem family: its instances are :class:`ProblemSpec`; users bring their own through :meth:`load`."""

    name: str
    description: str
    kind: str
    settings: type
    """the dataclass of the family's settings (``--set`` keys and the ``[settings]`` table of a config file)."""
    loader: Callable[[str, Any], ProblemSpec]
    """``loader(source, settings)`` -> a problem built from a user's file (or topohub key)."""
    source_help: str = ""
    """what a user's source is for this family (the file format), one line."""
    source_option: str = "scenario"
    """the CLI option users know the source by (``--scenario``, ``--topology`` or ``--instance``; all work)."""

    def load(self, source: str | Path, settings: Any = None, **overrides: Any) -> ProblemSpec:
        """A problem from ``source`` (a file path or a key) with ``settings`` (default: the family's defaults),
        some of them replaced by ``overrides``."""
        from .config import build

        base = dataclasses.asdict(settings) if settings is not None else None
        return self.loader(str(source), build(self.settings, overrides, where="settings.", defaults=base))


_FAMILIES: dict[str, Family] = {}
_PROBLEMS: dict[str, ProblemSpec] = {}


def register_family(family: Family) -> None:
    key = _key(family.name)
    if key in _FAMILIES:
        raise ConfigError(f"family {family.name!r} is already registered")
    if family.kind not in KINDS:
        raise ConfigError(f"family {family.name!r}: 'kind' must be one of {sorted(KINDS)} (got {family.kind!r})")
    _FAMILIES[key] = family


def register_problem(spec: ProblemSpec) -> None:
    key = _key(spec.name)
    if key in _PROBLEMS:
        raise ConfigError(f"problem {spec.name!r} is already registered")
    _PROBLEMS[key] = spec


def _load_builtin() -> None:
    for name in BUILTIN_FAMILIES:
        importlib.import_module(f"netctrl.problems.{name}")


def list_families() -> list[str]:
    """The families, the built-in ones first (in :data:`BUILTIN_FAMILIES` order)."""
    _load_builtin()
    order = {k: i for i, k in enumerate(BUILTIN_FAMILIES)}
    return [f.name for f in sorted(_FAMILIES.values(), key=lambda f: order.get(_key(f.name), len(order)))]


def get_family(name: str | Family) -> Family:
    if isinstance(name, Family):
        return name
    _load_builtin()
    key = _key(name).split("/", 1)[0]
    if key not in _FAMILIES:
        raise ConfigError(f"Unknown problem family {name!r}; choose one of {list_families()}")
    return _FAMILIES[key]


def list_problems(family: str | None = None) -> list[str]:
    """The registered instances (of one family), in registration order."""
    _load_builtin()
    fams = [_key(get_family(family).name)] if family is not None else [_key(f) for f in list_families()]
    return [p.name for f in fams for p in _PROBLEMS.values() if _key(p.family) == f]


def get_problem(name: str | ProblemSpec, **settings: Any) -> ProblemSpec:
    """A registered problem by name (spelling-insensitive; a unique instance name alone works too), or the spec
    itself, with some of its family's settings replaced by ``settings``."""
    if isinstance(name, ProblemSpec):
        return name.with_settings(**settings)
    _load_builtin()
    key = _key(name)
    if key not in _PROBLEMS:
        matches = [k for k in _PROBLEMS if k.startswith(key + "/") or k.split("/")[-1] == key]
        if len(matches) != 1:
            hint = f"; {key} is a family: name an instance or give a file with --scenario" if key in _FAMILIES else ""
            raise ConfigError(f"Unknown problem {name!r}{hint}; choose one of {list_problems()}")
        key = matches[0]
    return _PROBLEMS[key].with_settings(**settings)


def load_problem(problem: str, source: str | Path, **settings: Any) -> ProblemSpec:
    """A problem of ``problem``'s family built from a user's ``source`` (file path or key). ``problem`` is a family
    name or a registered instance, whose settings are then the defaults."""
    _load_builtin()
    base = None
    if _key(problem) not in _FAMILIES:
        base = get_problem(problem).settings
    return get_family(problem).load(source, base, **settings)


def problem_of(identity: dict) -> ProblemSpec:
    """The problem a checkpoint was trained on, from its ``problem`` record (:meth:`ProblemSpec.identity`)."""
    name, source, settings = identity.get("name"), identity.get("source"), identity.get("settings") or {}
    if not name:
        raise ConfigError("the checkpoint does not say which problem it was trained on; give the problem")
    if source:
        return load_problem(identity.get("family") or name, source, **settings)
    spec = get_problem(name)
    if spec.settings is not None and settings:
        current = dataclasses.asdict(spec.settings)
        changed = {k: v for k, v in settings.items() if _plain(current.get(k)) != v}
        spec = spec.with_settings(**changed)
    return spec


# ------------------------------------------------------------------------------------------------ recipes
@dataclass
class Recipe:
    """A way of training a controller for a problem.

    ``config`` is a dataclass (its fields may be dataclasses: the *sections* of a config file); the defaults
    of an instance are ``spec.recipes[name]``. ``budget`` and ``time_limit`` name the config fields that
    ``--iterations`` and ``--time-limit`` set (dotted paths, e.g. ``"ppo.iterations"``).
    """

    name: str
    description: str
    config: type
    train: Callable[..., Any]
    """``train(spec, cfg, run_dir, resume=False, progress=True, verbose=True, tensorboard=False) -> TrainResult``
    (``tensorboard``: the metrics also go to ``run_dir/tensorboard/``; passed only when true)."""
    load: Callable[..., Controller]
    """``load(checkpoint, spec=None, name=None) -> Controller`` (``spec``: the problem it will act on)."""
    budget: str | None = None
    time_limit: str | None = None
    aliases: tuple[str, ...] = ()
    resumable: tuple[str, ...] = ()
    """config fields (dotted paths) a resumed run may change, e.g. a larger budget."""

    def make_config(self, spec: ProblemSpec, overrides: dict | None = None, seed: int | None = None):
        """The config for ``spec``: the dataclass defaults, then the instance's defaults for this recipe, then
        ``overrides`` (a nested dict by section; validated), with every ``seed`` field set to ``seed``."""
        from .config import build, set_seeds

        if self.name not in spec.recipes:
            raise ConfigError(
                f"recipe {self.name!r} does not apply to {spec.name}; its recipes: {', '.join(spec.recipes) or 'none'}"
            )
        cfg = build(self.config, overrides or {}, defaults=spec.recipes[self.name])
        return cfg if seed is None else set_seeds(cfg, seed)


_RECIPES: dict[str, Recipe] = {}
_ALIASES: dict[str, str] = {}


def register_recipe(recipe: Recipe) -> None:
    key = _key(recipe.name)
    if key in _RECIPES:
        raise ConfigError(f"recipe {recipe.name!r} is already registered")
    _RECIPES[key] = recipe
    for a in recipe.aliases:
        _ALIASES[_key(a)] = key


def list_recipes() -> list[str]:
    importlib.import_module(BUILTIN_RECIPES)
    return [r.name for r in _RECIPES.values()]


def get_recipe(name: str | Recipe) -> Recipe:
    """A recipe by name or alias (``ppo`` = ``bilevel-ppo``), spelling-insensitive."""
    if isinstance(name, Recipe):
        return name
    importlib.import_module(BUILTIN_RECIPES)
    key = _key(name)
    key = _ALIASES.get(key, key)
    if key not in _RECIPES:
        raise ConfigError(f"Unknown recipe (--algo) {name!r}; choose one of {list_recipes()}")
    return _RECIPES[key]
