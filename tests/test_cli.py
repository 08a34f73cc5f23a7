"""One end-to-end smoke run per CLI command, on tiny budgets."""

import json

from typer.testing import CliRunner

from netctrl.cli import app

runner = CliRunner()
TINY = ["--set", "num_envs=2", "--set", "group_size=2", "--set", "minibatch_size=20", "--set", "update_epochs=1", "--set", "eval_every=1"]


def test_list():
    r = runner.invoke(app, ["list"])
    assert r.exit_code == 0, r.output
    assert "mobility/nyc_brooklyn" in r.output and "netctrl/Mobility-NYCBrooklyn-v0" in r.output


def test_train_then_eval(tmp_path):
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", "mobility/nyc_brooklyn", "--iterations", "2", "--run-dir", str(run), "--no-progress", *TINY])
    assert r.exit_code == 0, r.output
    assert (run / "best.pt").exists() and (run / "last.pt").exists()
    out = tmp_path / "rows.json"
    r = runner.invoke(app, ["eval", "mobility/nyc_brooklyn", "--checkpoint", str(run / "best.pt"),
                            "--baselines", "uniform,no-rebalancing", "--episodes", "2", "--json", str(out)])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())
    assert [row["controller"] for row in rows] == ["bilevel-ppo", "uniform", "no-rebalancing"]
    assert all(row["episodes"] == 2 and row["seeds"] == [1000, 1001] for row in rows)


def test_train_edge_agent_with_a2c(tmp_path):
    run = tmp_path / "edge"
    r = runner.invoke(app, ["train", "nyc_brooklyn", "--agent", "edge", "--algo", "a2c", "--iterations", "2",
                            "--run-dir", str(run), "--no-progress", "--set", "eval_every=1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["eval", "mobility/nyc_brooklyn", "--checkpoint", str(run / "best.pt"), "--baselines", "none",
                            "--episodes", "1"])
    assert r.exit_code == 0, r.output and "edge-a2c" in r.output


def test_eval_rejects_unknown_baseline_and_corrupt_checkpoint(tmp_path):
    r = runner.invoke(app, ["eval", "mobility/nyc_brooklyn", "--baselines", "psychic"])
    assert r.exit_code != 0 and "unknown baseline" in r.output
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    r = runner.invoke(app, ["eval", "mobility/nyc_brooklyn", "--checkpoint", str(bad), "--baselines", "none"])
    assert r.exit_code != 0 and "not a readable checkpoint" in str(r.exception)


def test_demo_end_to_end_on_tiny_budget(tmp_path):
    r = runner.invoke(app, ["demo", "--iterations", "2", "--episodes", "2", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    table = json.loads((tmp_path / "table.json").read_text())
    names = [row["controller"] for row in table["rows"]]
    assert names[:2] == ["bilevel-ppo", "oracle"] and "uniform" in names and "random" in names
    oracle = next(row for row in table["rows"] if row["controller"] == "oracle")
    assert oracle["pct_of_oracle"] == 100.0
    assert (tmp_path / "learning_curve.png").stat().st_size > 10_000


def test_sweep_in_process_writes_one_row_per_job(tmp_path):
    out = tmp_path / "sweep.json"
    r = runner.invoke(app, ["sweep", "supply_chain/1f2s", "--seeds", "0,1", "--grid", "actor_lr=0.0001,0.001",
                            "--set", "iterations=1", "--set", "eval_every=1", "--no-ray", "--runs", str(tmp_path / "runs"),
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "sweep" and doc["backend"] == "local"
    assert [(row["controller"], row["seed"]) for row in doc["rows"]] == [
        ("bilevel-ppo[actor_lr=0.0001,eval_every=1,iterations=1]", 0), ("bilevel-ppo[actor_lr=0.0001,eval_every=1,iterations=1]", 1),
        ("bilevel-ppo[actor_lr=0.001,eval_every=1,iterations=1]", 0), ("bilevel-ppo[actor_lr=0.001,eval_every=1,iterations=1]", 1)]
    assert all(row["episodes"] == 10 and (tmp_path / "runs").exists() for row in doc["rows"])
    # seeds differ, so the runs differ; the same seed with a different learning rate gives another policy too
    assert len({row["reward_mean"] for row in doc["rows"]}) > 1
    bad = runner.invoke(app, ["sweep", "supply_chain/1f2s", "--grid", "actor_lr", "--no-ray"])
    assert bad.exit_code != 0 and "key=v1,v2" in bad.output
