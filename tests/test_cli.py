"""The command line end to end, on tiny budgets: every family through the same commands, users' own files and
experiment configs, and one-line errors for bad input."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import netctrl
from netctrl.cli import app

runner = CliRunner()
TINY = [
    "--set",
    "num_envs=2",
    "--set",
    "group_size=2",
    "--set",
    "minibatch_size=20",
    "--set",
    "update_epochs=1",
    "--set",
    "eval_every=1",
]


def ok(args):
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.output


def refused(args, *needles, code=None):
    """A user's error: the exit status of its kind (2-8; ``code`` if given) and at most 3 lines naming the cause,
    no traceback."""
    r = runner.invoke(app, args)
    assert r.exit_code == code if code is not None else 2 <= r.exit_code <= 8, (r.exit_code, r.output)
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit), r.output
    assert len(r.output.strip().splitlines()) <= 3 and r.output.startswith("Error: "), r.output
    for n in needles:
        assert n in r.output, (n, r.output)
    return r.output


def test_list_shows_every_family_with_instances_methods_and_files():
    out = ok(["list"])
    for family in ("mobility", "supply_chain", "network_flow", "routing", "critical_node", "toll_design"):
        assert re.search(rf"^{family}: .*\[(gymnasium|pettingzoo|instance)\]$", out, re.M), family
    for expected in (
        "mobility/nyc_brooklyn  [netctrl/Mobility-NYCBrooklyn-v0]",
        "routing/att",
        "critical_node/d1",
        "toll_design/braess",
        "recipes (--algo, first = default): mamrl",
        "your own (--instance)",
        "settings (--set): start_hour=19",
    ):
        assert expected in out
    one = ok(["list", "toll-design"])
    assert one.startswith("toll_design:") and "mobility" not in one
    refused(["list", "weather"], "Unknown problem family 'weather'")


def test_help_of_every_command():
    for cmd in ("list", "train", "eval", "demo", "sweep"):
        assert "Usage" in ok([cmd, "--help"])


def test_version_is_the_installed_one_and_the_one_in_pyproject():
    """``netctrl --version`` prints the installed metadata's version, which comes from pyproject.toml (its one
    place; a stale install, e.g. not reinstalled after a bump, fails here)."""
    assert ok(["--version"]) == f"netctrl {netctrl.__version__}\n"
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert netctrl.__version__ == project["version"]
    assert "version" not in project.get("dynamic", [])


def test_train_then_eval(tmp_path):
    run = tmp_path / "run"
    ok(["train", "mobility/nyc_brooklyn", "--iterations", "2", "--run-dir", str(run), "--no-progress", *TINY])
    assert (run / "best.pt").exists() and (run / "last.pt").exists() and (run / "config.toml").exists()
    out = tmp_path / "rows.json"
    ok(
        [
            "eval",
            "mobility/nyc_brooklyn",
            "--checkpoint",
            str(run / "best.pt"),
            "--baselines",
            "uniform,no-rebalancing",
            "--episodes",
            "2",
            "--json",
            str(out),
        ]
    )
    rows = json.loads(out.read_text())
    assert [row["controller"] for row in rows] == ["bilevel-ppo", "uniform", "no-rebalancing"]
    assert all(row["episodes"] == 2 and row["seeds"] == [1000, 1001] for row in rows)
    # the same run directory again without --resume would overwrite it: refused; its config names the run
    refused(
        ["train", "mobility/nyc_brooklyn", "--iterations", "2", "--run-dir", str(run), "--no-progress", *TINY],
        "already holds a run",
    )
    refused(["train", "--config", str(run / "config.toml")], "already holds a run")
    ok(["train", "--config", str(run / "config.toml"), "--resume", "--iterations", "3", "--no-progress"])
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["iteration"] == 3


def test_train_edge_agent_with_a2c(tmp_path):
    run = tmp_path / "edge"
    ok(
        [
            "train",
            "nyc_brooklyn",
            "--algo",
            "edge-a2c",
            "--iterations",
            "2",
            "--run-dir",
            str(run),
            "--no-progress",
            "--set",
            "eval_every=1",
        ]
    )
    assert "edge-a2c" in ok(
        [
            "eval",
            "mobility/nyc_brooklyn",
            "--checkpoint",
            str(run / "best.pt"),
            "--baselines",
            "none",
            "--episodes",
            "1",
        ]
    )


def test_eval_rejects_unknown_baseline_foreign_and_corrupt_checkpoints(tmp_path):
    refused(["eval", "mobility/nyc_brooklyn", "--baselines", "psychic"], "unknown baseline(s) ['psychic']")
    refused(
        ["eval", "mobility/nyc_brooklyn", "--episodes", "0"],
        "Invalid value for '--episodes'",
        "greater than or equal to 1",
    )
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    refused(
        ["eval", "mobility/nyc_brooklyn", "--checkpoint", str(bad), "--baselines", "none"], "not a readable checkpoint"
    )
    run = tmp_path / "sc"
    ok(["train", "supply_chain/1f2s", "--iterations", "1", "--run-dir", str(run), "--no-progress", *TINY])
    refused(
        ["eval", "mobility/nyc_brooklyn", "--checkpoint", str(run / "best.pt")],
        "this checkpoint is for supply_chain/1f2s (family supply_chain), not mobility/nyc_brooklyn",
    )
    refused(["eval", "mobility/atlantis"], "Unknown problem 'mobility/atlantis'")


def test_demo_end_to_end_on_tiny_budget(tmp_path):
    ok(["demo", "--iterations", "2", "--episodes", "2", "--out", str(tmp_path)])
    table = json.loads((tmp_path / "table.json").read_text())
    names = [row["controller"] for row in table["rows"]]
    assert names[:2] == ["bilevel-ppo", "oracle"] and "uniform" in names and "random" in names
    oracle = next(row for row in table["rows"] if row["controller"] == "oracle")
    assert oracle["pct_of_oracle"] == 100.0
    assert (tmp_path / "learning_curve.png").stat().st_size > 10_000


def test_sweep_in_process_writes_one_row_per_job(tmp_path):
    out = tmp_path / "sweep.json"
    ok(
        [
            "sweep",
            "supply_chain/1f2s",
            "--seeds",
            "0,1",
            "--grid",
            "actor_lr=0.0001,0.001",
            "--set",
            "iterations=1",
            "--set",
            "eval_every=1",
            "--no-ray",
            "--runs",
            str(tmp_path / "runs"),
            "--out",
            str(out),
        ]
    )
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "sweep" and doc["backend"] == "local"
    assert [(row["controller"], row["seed"]) for row in doc["rows"]] == [
        ("bilevel-ppo[actor_lr=0.0001,eval_every=1,iterations=1]", 0),
        ("bilevel-ppo[actor_lr=0.0001,eval_every=1,iterations=1]", 1),
        ("bilevel-ppo[actor_lr=0.001,eval_every=1,iterations=1]", 0),
        ("bilevel-ppo[actor_lr=0.001,eval_every=1,iterations=1]", 1),
    ]
    assert all(row["episodes"] == 10 and (tmp_path / "runs").exists() for row in doc["rows"])
    # seeds differ, so the runs differ; the same seed with a different learning rate gives another policy too
    assert len({row["reward_mean"] for row in doc["rows"]}) > 1
    refused(["sweep", "supply_chain/1f2s", "--grid", "actor_lr", "--no-ray"], "key=v1,v2")
    refused(["sweep", "supply_chain/1f2s", "--grid", "actor_rate=1,2", "--no-ray"], "unknown key 'actor_rate'")


# ------------------------------------------------------------------------------------------------ every family
#: per family: a tiny train of its default recipe, and the settings its evaluation shares with the training
FAMILIES = {
    "mobility/nyc_brooklyn": (["--iterations", "1", *TINY], []),
    "supply_chain/1f2s": (["--iterations", "1", *TINY], []),
    "network_flow/b4": (
        [
            "--iterations",
            "1",
            *TINY,
            "--set",
            "rollout_steps=8",
            "--set",
            "minibatch_size=16",
            "--set",
            "pretrain.episodes=1",
            "--set",
            "pretrain.rounds=0",
            "--set",
            "pretrain.epochs=1",
        ],
        ["--set", "steps=8"],
    ),
    "routing/b4": (
        [
            "--iterations",
            "1",
            "--set",
            "meta_iterations=1",
            "--set",
            "mamrl.horizon=20",
            "--set",
            "mamrl.hidden=8",
            "--set",
            "teacher.episodes=1",
            "--set",
            "teacher.epochs=1",
        ],
        ["--set", "settings.horizon=20"],
    ),
    "critical_node/d1": (
        ["--set", "max_budget=2", "--set", "states_per_stage=20", "--set", "val_states=5", "--set", "epochs=1"],
        ["--set", "omega=1", "--set", "phi=1", "--set", "lam=0"],
    ),
    "toll_design/braess": (["--iterations", "3"], []),
}
REFERENCE = {
    "mobility": "oracle",
    "supply_chain": "oracle",
    "network_flow": "oracle",
    "routing": "spa",
    "critical_node": "exact",
    "toll_design": "closed-form",
}


@pytest.mark.parametrize("problem", sorted(FAMILIES))
def test_every_family_trains_and_evaluates_through_the_same_commands(tmp_path, problem):
    train_args, settings = FAMILIES[problem]
    run = tmp_path / "run"
    ok(["train", problem, "--run-dir", str(run), "--no-progress", *train_args, *settings])
    assert (run / "best.pt").exists() and (run / "config.toml").exists()
    out = ok(["eval", problem, "--checkpoint", str(run / "best.pt"), "--episodes", "2", *settings])
    recipe = json.loads(json.dumps(__import__("tomllib").loads((run / "config.toml").read_text())))["algo"]
    assert f"{problem}: " in out and recipe in out and REFERENCE[problem.split("/")[0]] in out
    # the resolved config repeats the run: the same config file, a new run directory, the same trained controller
    again = tmp_path / "again"
    ok(["train", "--config", str(run / "config.toml"), "--run-dir", str(again), "--no-progress"])
    strip = lambda text: re.sub(r"run_dir = .*", "", text)
    assert strip((again / "config.toml").read_text()) == strip((run / "config.toml").read_text())
    assert same_tensors(
        torch.load(run / "best.pt", weights_only=True), torch.load(again / "best.pt", weights_only=True)
    )


def same_tensors(a, b) -> bool:
    """Whether two checkpoints hold the same tensors (weights, tolls, Q-tables...), wherever they are."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_tensors(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_tensors(x, y) for x, y in zip(a, b))
    if torch.is_tensor(a) or torch.is_tensor(b):
        return torch.is_tensor(a) and torch.is_tensor(b) and torch.equal(a, b)
    return True  # numbers and strings: times, paths may differ


# ------------------------------------------------------------------------------------------------ users' files
def test_a_city_file_that_is_not_packaged_trains_and_evaluates(tmp_path):
    from importlib import resources

    src = resources.files("netctrl").joinpath("data", "mobility", "scenario_nyc_brooklyn.json")
    city = tmp_path / "my_city.json"
    city.write_bytes(src.read_bytes())
    run = tmp_path / "run"
    ok(
        [
            "train",
            "mobility",
            "--scenario",
            str(city),
            "--set",
            "demand_ratio=4",
            "--set",
            "steps=6",
            "--iterations",
            "1",
            "--run-dir",
            str(run),
            "--no-progress",
            *TINY,
            "--set",
            "rollout_steps=6",
            "--set",
            "minibatch_size=12",
        ]
    )
    cfg = (run / "config.toml").read_text()
    assert 'scenario = "my_city.json"' in cfg and "demand_ratio = 4.0" in cfg and (run / "my_city.json").exists()
    out = ok(
        [
            "eval",
            "mobility",
            "--scenario",
            str(city),
            "--set",
            "demand_ratio=4",
            "--set",
            "steps=6",
            "--checkpoint",
            str(run / "best.pt"),
            "--episodes",
            "2",
        ]
    )
    assert "mobility/my_city" in out and "oracle" in out and "uniform" in out and "100.0" in out


def test_a_supply_network_file_trains_and_evaluates(tmp_path):
    from netctrl.problems.supply_chain import REFERENCE

    net = tmp_path / "net.json"
    net.write_text(json.dumps({**REFERENCE["1f2s"], "name": "mine", "steps": 12}))
    run = tmp_path / "run"
    ok(
        [
            "train",
            "supply_chain",
            "--scenario",
            str(net),
            "--iterations",
            "1",
            "--run-dir",
            str(run),
            "--no-progress",
            *TINY,
            "--set",
            "rollout_steps=12",
            "--set",
            "minibatch_size=12",
        ]
    )
    out = ok(["eval", "supply_chain", "--scenario", str(net), "--checkpoint", str(run / "best.pt"), "--episodes", "2"])
    assert "supply_chain/net" in out and "order-up-to" in out and "oracle" in out


def test_a_topology_file_trains_and_evaluates(tmp_path):
    topo = tmp_path / "ring.json"
    names = "ABCDEF"
    topo.write_text(
        json.dumps(
            {
                "name": "ring",
                "nodes": [{"id": n, "pos": [k, k % 2]} for k, n in enumerate(names)],
                "links": [{"u": names[k], "v": names[(k + 1) % 6], "capacity": 10, "latency": 1} for k in range(6)]
                + [{"u": "A", "v": "D", "capacity": 10, "latency": 2}],
            }
        )
    )
    run = tmp_path / "run"
    args = ["--set", "steps=8", "--set", "commodities=2"]
    ok(
        [
            "train",
            "network_flow",
            "--topology",
            str(topo),
            *args,
            "--iterations",
            "1",
            "--run-dir",
            str(run),
            "--no-progress",
            *TINY,
            "--set",
            "rollout_steps=8",
            "--set",
            "minibatch_size=16",
            "--set",
            "imitation=false",
        ]
    )
    out = ok(
        [
            "eval",
            "network_flow",
            "--topology",
            str(topo),
            *args,
            "--checkpoint",
            str(run / "best.pt"),
            "--episodes",
            "2",
        ]
    )
    assert "network_flow/ring" in out and "shortest-path" in out and "oracle" in out
    # the same file is a routing network too (its links have capacities and latencies)
    out = ok(["eval", "routing", "--topology", str(topo), "--set", "horizon=30", "--episodes", "2"])
    assert "routing/ring" in out and "spa" in out and "delivery_time_mean" in out


def test_malformed_files_and_config_keys_name_the_field(tmp_path):
    city = tmp_path / "city.json"
    city.write_text(json.dumps({"nlat": 2, "nlon": 1, "demand": [], "rebTime": [], "totalAcc": []}))
    refused(["eval", "mobility", "--scenario", str(city)], str(city))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    refused(["train", "supply_chain", "--scenario", str(broken)], "not valid JSON")
    refused(["eval", "network_flow", "--topology", str(tmp_path / "nowhere.json")], "topology file not found")
    topo = tmp_path / "t.json"
    topo.write_text(json.dumps({"nodes": [{"id": "a"}, {"id": "b"}], "links": [{"u": "a", "v": "z"}]}))
    refused(["eval", "network_flow", "--topology", str(topo)], "'links[0].v' = 'z' is not a node id")
    refused(["eval", "routing/b4", "--set", "horizon=abc"], "'settings.horizon' expects an integer (got 'abc')")
    refused(["eval", "routing/b4", "--set", 'failed_links=["A-Q"]'], "'settings.failed_links[0]' = 'A-Q'")
    refused(["train", "mobility/nyc_brooklyn", "--set", "colour=red"], "unknown key 'colour'")
    refused(["train", "mobility/nyc_brooklyn", "--set", "policy.depth=3"], "unknown key 'policy.depth'")
    refused(["train", "mobility/nyc_brooklyn", "--set", "seed=3"], "seeds are set once")
    refused(["train", "mobility/nyc_brooklyn", "--set", "ppo.seed=3"], "seeds are set once")
    refused(["train", "mobility/nyc_brooklyn", "--set", "gamma=2"], "'gamma' in [0, 1]")
    for text, needle in (
        (
            'problem = "mobility/nyc_brooklyn"\nalgo = "bilevel-ppo"\n[ppo]\nitterations = 3\n',
            "unknown key 'ppo.itterations'",
        ),
        ('problem = "mobility/nyc_brooklyn"\n[ppo]\nseed = 3\n', "'ppo.seed' is set by the top-level"),
        ('problem = "mobility/nyc_brooklyn"\ncolour = "red"\n', "unknown key 'colour'"),
        ('problem = "mobility/nyc_brooklyn"\n[settings]\nsteps = "many"\n', "'settings.steps' expects"),
        ("problem = [1, 2\n", "not a valid TOML file"),
    ):
        cfg = tmp_path / "x.toml"
        cfg.write_text(text)
        refused(["train", "--config", str(cfg), "--run-dir", str(tmp_path / "never")], needle)
    yml = tmp_path / "x.yaml"
    yml.write_text("problem: supply_chain/1f2s\nppo:\n  iterations: -1\n")
    refused(["train", "--config", str(yml)], "'iterations' > 0")


def test_a_yaml_experiment_runs_and_the_command_line_wins(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "problem: supply_chain/1f2s\nalgo: bilevel-ppo\nseed: 3\nppo:\n  iterations: 5\n  num_envs: 2\n"
        "  group_size: 2\n  minibatch_size: 20\n  update_epochs: 1\n  eval_every: 1\n"
    )
    run = tmp_path / "run"
    ok(["train", "--config", str(cfg), "--iterations", "1", "--run-dir", str(run), "--no-progress"])
    toml = (run / "config.toml").read_text()
    assert "seed = 3" in toml and "iterations = 1" in toml and "num_envs = 2" in toml
    assert json.loads((run / "config.json").read_text())["seed"] == 3
