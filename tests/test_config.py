"""Typed configs and experiment files: every key and value checked, --set routing, a resolved experiment that
reads back to the same experiment."""

from dataclasses import dataclass, field

import pytest

from netctrl.config import build, coerce, experiment, read_file, route_sets, set_seeds, to_dict
from netctrl.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    rate: float = 0.1
    steps: int = 3
    pair: tuple[float, float] = (0.0, 1.0)
    seed: int = 0

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"'steps' >= 1 expected (got {self.steps})")


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=lambda: Inner(rate=0.5))
    flag: bool = False
    limit: float | None = None
    name: str = "x"


def test_values_are_coerced_or_refused_with_the_key_named():
    assert coerce("3", int, "a") == 3 and coerce(3, float, "a") == 3.0 and coerce(2.0, int, "a") == 2
    assert coerce("none", float | None, "a") is None and coerce([1, 2], tuple[float, float], "a") == (1.0, 2.0)
    assert coerce("true", bool, "a") is True
    for value, tp, msg in (
        (True, int, "expects an integer"),
        (2.5, int, "expects an integer"),
        ("x", float, "a number"),
        (1, str, "a string"),
        ([1], tuple[float, float], "a list of 2 values"),
        ("yes", bool, "true or false"),
    ):
        if "list" in msg:
            with pytest.raises(ConfigError, match=msg):
                coerce(value, tp, "k")
            continue
        with pytest.raises(ConfigError, match=f"'k' expects {msg}" if "expects" not in msg else f"'k' {msg}"):
            coerce(value, tp, "k")


def test_build_takes_sections_defaults_and_refuses_unknown_keys():
    cfg = build(Outer, {"inner": {"steps": 5}, "flag": True}, defaults={"name": "y"})
    assert cfg == Outer(inner=Inner(rate=0.5, steps=5), flag=True, name="y")  # the section's own default kept
    assert build(Outer, to_dict(cfg)) == cfg  # round trip through plain dicts
    with pytest.raises(ConfigError, match="unknown key 'inner.stepz'; inner has: rate, steps, pair, seed"):
        build(Outer, {"inner": {"stepz": 5}})
    with pytest.raises(ConfigError, match="inner: 'steps' >= 1 expected"):
        build(Outer, {"inner": {"steps": 0}})
    with pytest.raises(ConfigError, match="'inner' is a section"):
        build(Outer, {"inner": 3})
    assert set_seeds(cfg, 7).inner.seed == 7


def test_set_keys_route_to_settings_or_the_recipe_and_must_be_unambiguous():
    from netctrl.problems.routing import RoutingSettings
    from netctrl.recipes.routing import MAMRLRecipeConfig

    settings, tree, ev = route_sets(
        {"load": 0.2, "meta_iterations": 3, "mamrl.horizon": 50, "eval.episodes": 2, "settings.horizon": 60},
        RoutingSettings,
        MAMRLRecipeConfig,
    )
    assert settings == {"load": 0.2, "horizon": 60} and ev == {"episodes": 2}
    assert tree == {"meta_iterations": 3, "mamrl": {"horizon": 50}}
    with pytest.raises(ConfigError, match="ambiguous key 'horizon'.*settings.horizon, mamrl.horizon"):
        route_sets({"horizon": 5}, RoutingSettings, MAMRLRecipeConfig)
    with pytest.raises(ConfigError, match="unknown key 'lode'"):
        route_sets({"lode": 5}, RoutingSettings, MAMRLRecipeConfig)
    with pytest.raises(ConfigError, match="seeds are set once"):
        route_sets({"mamrl.seed": 5}, RoutingSettings, MAMRLRecipeConfig)


def test_a_family_setting_named_seed_is_settings_seed():
    exp = experiment(problem="network_flow/b4", algo="bilevel-ppo", seed=2, sets={"settings.seed": 3})
    assert exp.settings.seed == 3 and exp.config.ppo.seed == 2 and exp.config.pretrain.seed == 2
    a, b = experiment(problem="network_flow/b4").spec.make_env(), exp.spec.make_env()
    assert list(a.sinks) != list(b.sinks)  # another scenario seed, other sinks


def test_the_written_experiment_reads_back_to_the_same_experiment(tmp_path):
    exp = experiment(problem="toll_design/att", algo="hypergrad", seed=4, sets={"lam": 0.2, "lr": 0.01})
    path = exp.write(tmp_path / "config.toml")
    text = path.read_text()
    assert (
        text.startswith("# netctrl experiment") and "seed = 4" in text and text.count("seed = ") == 2
    )  # + settings.seed
    again = experiment(path)
    assert (again.problem, again.algo, again.seed) == ("toll_design/att", "hypergrad", 4)
    assert again.settings == exp.settings and again.config == exp.config
    assert read_file(path)["settings"]["temperature"] == "none"  # None is written as "none"


def test_defaults_of_the_problem_apply_under_the_given_values():
    exp = experiment(problem="mobility/nyc_brooklyn", sets={"hidden": 32})
    assert exp.algo == "bilevel-ppo" and exp.config.ppo.iterations == 3500 and exp.config.policy.hidden == 32
    assert exp.config.policy.prior_feature == 0 and exp.config.imitation is False
    nf = experiment(problem="network_flow/gabriel-mix")
    assert nf.config.imitation is True and nf.config.pretrain.episodes == 8
