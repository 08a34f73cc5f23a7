"""Configs: typed dataclasses built from plain values, and experiment files (TOML or YAML) that record a run.

**Dataclass configs.** :func:`build` makes a config dataclass from a (nested) dict, checking every key and value
against the dataclass: an unknown key, a value of the wrong type, or a value its ``__post_init__`` refuses
raises :class:`~netctrl.errors.ConfigError` naming the key (``'ppo.iterations' expects an integer (got 'x')``).
Fields that are themselves dataclasses are *sections* (``ppo``, ``policy``...), built from nested dicts.

**Experiment files.** One file records a whole experiment, so that ``netctrl train --config FILE`` repeats it::

    problem = "mobility"            # a family, or a registered instance such as "mobility/nyc_brooklyn"
    scenario = "my_city.json"       # the user's file (or a topohub key); relative to this file
    algo = "bilevel-ppo"            # the recipe (see `netctrl list`)
    seed = 0                        # the one seed: every seed of the recipe's config is set from it

    [settings]                      # the family's settings (see `netctrl list <family>`)
    demand_ratio = 2.0

    [ppo]                           # the recipe's config sections; omitted keys keep the problem's defaults
    iterations = 200

    [policy]
    hidden = 32

    [eval]                          # netctrl eval: episodes on the test seeds, baselines
    episodes = 10

TOML (``.toml``) and YAML (``.yaml``/``.yml``) are read the same way. ``None`` is written as the string
``"none"`` (TOML has no null). Every ``netctrl train`` writes the fully resolved experiment as
``<run_dir>/config.toml`` (with a copy of the user's file next to it), so ``netctrl train --config
<run_dir>/config.toml --run-dir <new dir>`` reproduces the run. The recipe's seeds are not written per
section: the top-level ``seed`` sets them all (a family setting named ``seed``, e.g. the rules that generate
a network-flow scenario, is ``settings.seed``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, NetctrlError
from .files import MAX_NESTING, check_nesting, read_text

NONE_STRINGS = ("none", "null")


# ------------------------------------------------------------------------------------------------ dataclasses
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp) -> str:
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("none" if a is type(None) else _type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "a list"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp`` (int, float, bool, str, ``X | None``, tuples, dicts), or a :class:`ConfigError`."""
    bad = ConfigError(f"'{where}' expects {_type_name(tp)} (got {value!r})")
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in NONE_STRINGS)):
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, where)
            except ConfigError:
                continue
        raise bad
    if value is None:
        raise bad
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise bad from None
        raise bad
    if tp is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise bad from None
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        args = typing.get_args(tp)
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{where}[{k}]") for k, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"'{where}' expects a list of {len(args)} values (got {value!r})")
        return tuple(coerce(v, a, f"{where}[{k}]") for k, (v, a) in enumerate(zip(value, args)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if isinstance(tp, type) and is_dataclass(tp):
        return build(tp, value, where=f"{where}.")
    return value


def build(cls: type, values: Mapping | Any = None, *, where: str = "", defaults: Mapping | None = None):
    """An instance of dataclass ``cls`` from ``values`` over ``defaults`` (both nested dicts by section; a
    dataclass instance counts as its dict), every key and value checked."""
    if values is not None and is_dataclass(values) and not isinstance(values, type):
        values = to_dict(values)
    if values is not None and not isinstance(values, Mapping):
        raise ConfigError(f"'{where.rstrip('.') or cls.__name__}' expects a table of settings (got {values!r})")
    values = dict(values or {})
    defaults = dict(defaults or {})
    hints = _hints(cls)
    names = [f.name for f in fields(cls)]
    for source in (values, defaults):
        unknown = [k for k in source if k not in names]
        if unknown:
            raise ConfigError(
                f"unknown key '{where}{unknown[0]}'; {where.rstrip('.') or cls.__name__} has: {', '.join(names)}"
            )
    kwargs = {}
    for f in fields(cls):
        tp = hints[f.name]
        if isinstance(tp, type) and is_dataclass(tp):
            sub = values.get(f.name)
            if sub is not None and not isinstance(sub, Mapping) and not is_dataclass(sub):
                raise ConfigError(f"'{where}{f.name}' is a section: expected a table of settings (got {sub!r})")
            base = {}  # the section's default in ``cls``, then the given defaults
            if f.default_factory is not dataclasses.MISSING:
                base = to_dict(f.default_factory())
            elif f.default is not dataclasses.MISSING and is_dataclass(f.default):
                base = to_dict(f.default)
            given = defaults.get(f.name)
            if given is not None and is_dataclass(given):
                given = to_dict(given)
            kwargs[f.name] = build(tp, sub, where=f"{where}{f.name}.", defaults=_merge(base, given or {}))
        elif f.name in values:
            kwargs[f.name] = coerce(values[f.name], tp, f"{where}{f.name}")
        elif f.name in defaults:
            kwargs[f.name] = coerce(defaults[f.name], tp, f"{where}{f.name}")
    try:
        return cls(**kwargs)
    except (NetctrlError, ValueError, TypeError) as exc:  # the class's own checks (__post_init__)
        raise ConfigError(f"{where.rstrip('.') or cls.__name__}: {exc}") from None


def to_dict(cfg) -> dict:
    """A config dataclass as a nested dict (tuples as lists)."""
    out: dict[str, Any] = {}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            out[f.name] = to_dict(v)
        elif isinstance(v, tuple):
            out[f.name] = [list(x) if isinstance(x, tuple) else x for x in v]
        else:
            out[f.name] = v
    return out


def leaf_paths(cls: type, prefix: str = "") -> list[str]:
    """Every settable key of ``cls`` as a dotted path (``ppo.iterations``, ``imitation``...)."""
    hints = _hints(cls)
    out = []
    for f in fields(cls):
        tp = hints[f.name]
        if isinstance(tp, type) and is_dataclass(tp):
            out += leaf_paths(tp, f"{prefix}{f.name}.")
        else:
            out.append(f"{prefix}{f.name}")
    return out


def set_seeds(cfg, seed: int):
    """A copy of ``cfg`` with every field named ``seed`` (in every section) set to ``seed``."""
    changes = {}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if f.name == "seed":
            changes["seed"] = int(seed)
        elif is_dataclass(v) and not isinstance(v, type):
            changes[f.name] = set_seeds(v, seed)
    return dataclasses.replace(cfg, **changes)


def _without_seeds(tree: dict) -> dict:
    return {k: _without_seeds(v) if isinstance(v, dict) else v for k, v in tree.items() if k != "seed"}


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON where it parses (numbers, true/false, null, lists), otherwise the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` -> ``{key: value}`` (values by :func:`parse_value`)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value (got {item!r})")
        k, v = item.split("=", 1)
        out[k.strip()] = parse_value(v.strip())
    return out


def _nest(tree: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"'{path}': '{p}' is a value, not a section")
    node[parts[-1]] = value


def route_sets(sets: Mapping[str, Any], settings_cls: type | None, recipe_cls: type | None) -> tuple[dict, dict, dict]:
    """Split ``--set`` keys into ``(settings, recipe config tree, eval)`` overrides.

    A key is either qualified (``settings.demand_ratio``, ``ppo.iterations``, ``eval.episodes``) or a bare
    field name that exactly one place has (``demand_ratio``, ``iterations``); ``seed`` is the top-level seed
    and cannot be set per section.
    """
    settings: dict[str, Any] = {}
    tree: dict[str, Any] = {}
    ev: dict[str, Any] = {}
    setting_keys = [f.name for f in fields(settings_cls)] if settings_cls is not None else []
    recipe_keys = leaf_paths(recipe_cls) if recipe_cls is not None else []
    eval_keys = [f.name for f in fields(EvalConfig)]
    for key, value in sets.items():
        if key == "seed" or (key.endswith(".seed") and not key.startswith("settings.")):
            raise ConfigError(
                f"'{key}': seeds are set once, by --seed (the top-level 'seed'); a family setting "
                "named seed is 'settings.seed'"
            )
        head, _, rest = key.partition(".")
        if head == "settings" and rest:
            if rest not in setting_keys:
                raise ConfigError(f"unknown key '{key}'; settings has: {', '.join(setting_keys) or 'nothing'}")
            settings[rest] = value
            continue
        if head == "eval" and rest:
            if rest not in eval_keys:
                raise ConfigError(f"unknown key '{key}'; eval has: {', '.join(eval_keys)}")
            ev[rest] = value
            continue
        if key in recipe_keys:
            _nest(tree, key, value)
            continue
        places = ([f"settings.{key}"] if key in setting_keys else []) + [
            p for p in recipe_keys if p.split(".")[-1] == key
        ]
        if len(places) == 1:
            if places[0].startswith("settings."):
                settings[key] = value
            else:
                _nest(tree, places[0], value)
        elif not places:
            known = ", ".join(setting_keys + [p for p in recipe_keys if not p.endswith(".seed") and p != "seed"])
            raise ConfigError(f"unknown key '{key}'; choose one of: {known}")
        else:
            raise ConfigError(f"ambiguous key '{key}' (in {', '.join(places)}); qualify it, e.g. --set {places[0]}=...")
    return settings, tree, ev


# ------------------------------------------------------------------------------------------------ experiments
@dataclass(frozen=True)
class EvalConfig:
    """What ``netctrl eval`` runs."""

    episodes: int = 10
    """episodes, on the problem's test seeds (the first ones)."""
    baselines: str = "all"
    """comma-separated baselines, ``all`` or ``none``."""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ConfigError(f"'episodes' >= 1 expected (got {self.episodes})")


TOP_KEYS = ("netctrl_version", "problem", "scenario", "algo", "seed", "run_dir")


def read_file(path: str | Path) -> dict:
    """A TOML, YAML or JSON file as a dict (a malformed file raises a :class:`ConfigError` naming it)."""
    path = Path(path)
    text = read_text(path, what="config file", error=ConfigError)
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"{path}: expected a .toml, .yaml, .yml or .json config file")
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError(f"{path}: lists and tables nest deeper than {MAX_NESTING} levels") from None
    except Exception as exc:  # tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError
        raise ConfigError(f"{path}: not a valid {suffix[1:].upper()} file ({str(exc)[:300]})") from None
    check_nesting(data, str(path), error=ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings at the top (got {type(data).__name__})")
    return data


@dataclass
class Experiment:
    """A resolved experiment: the problem (instance or user file + settings), the recipe and its config, the
    seed, where it runs and what ``netctrl eval`` does."""

    problem: str
    algo: str | None
    """the recipe's name (None for an experiment that only evaluates baselines)"""
    seed: int
    settings: Any
    config: Any
    eval: EvalConfig = field(default_factory=EvalConfig)
    scenario: str | None = None
    run_dir: str | None = None

    @functools.cached_property
    def spec(self):
        """The problem (built once: a user's file is read when first asked for)."""
        from .registry import get_problem, load_problem

        if self.scenario is None:
            return get_problem(self.problem).with_settings(
                **_changed(self.settings, get_problem(self.problem).settings)
            )
        return load_problem(
            self.problem, self.scenario, **({} if self.settings is None else dataclasses.asdict(self.settings))
        )

    @property
    def recipe(self):
        from .registry import get_recipe

        if self.algo is None:
            raise ConfigError("the experiment names no recipe (give --algo, or 'algo' in the config)")
        return get_recipe(self.algo)

    def to_dict(self) -> dict:
        """The experiment as a config-file tree (section seeds left out: the top-level ``seed`` sets them)."""
        from ._version import __version__

        tree: dict = {"netctrl_version": __version__, "problem": self.problem}
        if self.scenario is not None:
            tree["scenario"] = self.scenario
        tree.update(algo=self.algo, seed=self.seed)
        if self.run_dir is not None:
            tree["run_dir"] = self.run_dir
        if self.settings is not None:
            tree["settings"] = to_dict(self.settings)
        tree.update(_without_seeds(to_dict(self.config)))
        tree["eval"] = to_dict(self.eval)
        return tree

    def write(self, path: str | Path, copy_scenario: bool = True) -> Path:
        """Write the experiment as TOML to ``path`` (atomically); a user's scenario file is copied next to it and
        referred to by its file name, so the directory is self-contained."""
        import tomli_w

        from .train import atomic_write_text

        path = Path(path)
        tree = self.to_dict()
        if self.run_dir is not None:  # absolute: the file names its run wherever it is read from
            tree["run_dir"] = str(Path(self.run_dir).resolve())
        if copy_scenario and self.scenario is not None and Path(self.scenario).is_file():
            src = Path(self.scenario)
            reserved = {path.name, "config.json", "metrics.jsonl", "metrics.csv", "summary.json", "pretrain.json"}
            dst = path.parent / (
                src.name if src.name not in reserved and src.suffix != ".pt" else f"scenario-{src.name}"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            if src.resolve() != dst.resolve():
                shutil.copyfile(src, dst)
            tree["scenario"] = dst.name
        header = (
            "# netctrl experiment, fully resolved. Repeat it with:\n"
            "#   netctrl train --config <this file> --run-dir <a new directory>\n"
        )
        atomic_write_text(path, header + tomli_w.dumps(_tomlable(tree)))
        return path


def _flat(tree: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_resume(exp: Experiment, path: str | Path) -> None:
    """Refuse to resume the run whose resolved experiment is the file ``path`` with another experiment: every key
    must match but the recipe's ``resumable`` ones (its budget, time limit, validation and checkpoint periods)."""
    path = Path(path)
    if not path.exists():
        return
    before, now = _flat(read_file(path)), _flat(_tomlable(exp.to_dict()))
    skip = {"netctrl_version", "run_dir", "scenario"} | set(exp.recipe.resumable)
    for key in sorted(set(before) | set(now)):
        if key in skip or key.startswith("eval."):
            continue
        if before.get(key) != now.get(key):
            raise ConfigError(
                f"{path.parent} was made with another config ('{key}' = {before.get(key)!r}, now "
                f"{now.get(key)!r}); resume it with --config {path} or choose another --run-dir"
            )


def _tomlable(value):
    if isinstance(value, dict):
        return {k: _tomlable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tomlable(v) for v in value]
    return "none" if value is None else value


def _changed(settings, base) -> dict:
    """The fields of ``settings`` that differ from ``base`` (both dataclasses of the same type, or None)."""
    if settings is None or base is None:
        return {}
    a, b = dataclasses.asdict(settings), dataclasses.asdict(base)
    return {k: v for k, v in a.items() if v != b.get(k)}


def experiment(
    config: str | Path | Mapping | None = None,
    *,
    problem: str | None = None,
    scenario: str | None = None,
    algo: str | None = None,
    seed: int | None = None,
    run_dir: str | None = None,
    sets: Mapping[str, Any] | None = None,
    iterations: int | None = None,
    time_limit: float | None = None,
    need_recipe: bool = True,
) -> Experiment:
    """Resolve an experiment from a config file (or dict) and command-line values, which win over the file.

    ``sets`` are ``--set`` overrides (see :func:`route_sets`); ``iterations`` / ``time_limit`` set the
    recipe's budget and time-limit fields. Every key and value is validated; relative paths in a file resolve
    against the file's directory.
    """
    from .registry import get_problem, get_recipe, load_problem

    tree: dict = {}
    base_dir = Path(".")
    where = "config"
    if isinstance(config, (str, Path)):
        tree = read_file(config)
        base_dir = Path(config).parent
        where = str(config)
    elif config is not None:
        tree = dict(config)
    tree = dict(tree)
    tree.pop("netctrl_version", None)
    problem = problem or tree.pop("problem", None)
    file_scenario = tree.pop("scenario", None)
    if scenario is None and file_scenario is not None:
        if not isinstance(file_scenario, str):
            raise ConfigError(f"{where}: 'scenario' expects a file path or key (got {file_scenario!r})")
        cand = base_dir / file_scenario
        scenario = str(cand) if not Path(file_scenario).is_absolute() and cand.exists() else file_scenario
    file_algo = tree.pop("algo", None)
    algo = algo or file_algo
    file_seed = tree.pop("seed", None)
    seed = seed if seed is not None else coerce(file_seed if file_seed is not None else 0, int, "seed")
    file_run = tree.pop("run_dir", None)
    if run_dir is None and file_run is not None:
        run_dir = str(base_dir / file_run) if not Path(str(file_run)).is_absolute() else str(file_run)
    if not problem:
        raise ConfigError(
            f"{where}: no problem given (a family such as 'mobility' or an instance such as "
            "'mobility/nyc_brooklyn'; see `netctrl list`)"
        )
    if scenario is None:
        base_spec = get_problem(problem)
        settings_cls = type(base_spec.settings) if base_spec.settings is not None else None
    else:
        from .registry import get_family

        settings_cls = get_family(problem).settings
        base_spec = None
    file_settings = tree.pop("settings", {}) or {}
    file_eval = tree.pop("eval", {}) or {}
    recipe = None
    if algo is not None or need_recipe:
        if algo is None:  # the family's instances share their recipes: ask a registered one
            from .registry import list_problems

            spec0 = base_spec or get_problem(list_problems(problem)[0])
            algo = spec0.default_recipe
            if algo is None:
                raise ConfigError(f"{problem}: no recipe trains a controller for it")
        recipe = get_recipe(algo)
        algo = recipe.name
    recipe_tree = tree
    if recipe is None and recipe_tree:
        raise ConfigError(
            f"{where}: unknown key '{next(iter(recipe_tree))}'; without 'algo' a config has: "
            f"{', '.join(TOP_KEYS + ('settings', 'eval'))}"
        )
    if recipe is not None:
        allowed = {f.name for f in fields(recipe.config)}
        for k in recipe_tree:
            if k not in allowed:
                raise ConfigError(
                    f"{where}: unknown key '{k}'; a {recipe.name} experiment has: "
                    f"{', '.join(TOP_KEYS + ('settings', 'eval') + tuple(f.name for f in fields(recipe.config)))}"
                )
        for path in leaf_paths(recipe.config):
            if path.split(".")[-1] == "seed" and _get(recipe_tree, path) is not None:
                raise ConfigError(f"{where}: '{path}' is set by the top-level 'seed'; set the seed once")
    s_over, r_over, e_over = route_sets(sets or {}, settings_cls, recipe.config if recipe else None)
    if recipe is not None:
        for dest, value in ((recipe.budget, iterations), (recipe.time_limit, time_limit)):
            if value is None:
                continue
            if dest is None:
                raise ConfigError(
                    f"recipe {recipe.name} has no {'iteration budget' if value is iterations else 'time limit'}"
                    f"; set its fields with --set (see `netctrl list`)"
                )
            _nest(r_over, dest, value)
    if not isinstance(file_settings, Mapping):
        raise ConfigError(f"{where}: 'settings' expects a table (got {file_settings!r})")
    merged_settings = {**file_settings, **s_over}
    if scenario is None:
        spec = get_problem(problem, **merged_settings)
    else:
        spec = load_problem(problem, scenario, **merged_settings)
    cfg = None
    if recipe is not None:
        if recipe.name not in spec.recipes:
            raise ConfigError(
                f"recipe {recipe.name!r} does not apply to {spec.name}; its recipes: "
                f"{', '.join(spec.recipes) or 'none'}"
            )
        cfg = recipe.make_config(spec, _merge(recipe_tree, r_over), seed=seed)
    ev = build(EvalConfig, {**(file_eval if isinstance(file_eval, Mapping) else {}), **e_over}, where="eval.")
    return Experiment(
        problem=spec.name if scenario is None else problem,
        algo=algo,
        seed=int(seed),
        settings=spec.settings,
        config=cfg,
        eval=ev,
        scenario=scenario,
        run_dir=run_dir,
    )


def _get(tree: dict, path: str):
    node = tree
    for p in path.split("."):
        if not isinstance(node, dict) or p not in node:
            return None
        node = node[p]
    return node


def _merge(a: Mapping, b: Mapping) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out
