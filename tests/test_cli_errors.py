"""Every verb of ``netctrl`` on bad input: at most 3 lines on stderr naming the cause, the exit status of the
error's kind (:data:`netctrl.errors.EXIT_CODES`), no traceback; ``--debug`` shows it; a bug keeps it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from netctrl.cli import app
from netctrl.errors import EXIT_CODES, ConfigError, NetctrlError

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
    "rollout_steps=20",
]


def _stderr(r) -> str:
    try:
        return r.stderr
    except ValueError:  # older click: stderr mixed into output
        return r.output


CASES = [
    # (arguments, exit status, text the message must hold)
    (["list", "weather"], 2, "Unknown problem family 'weather'"),
    (["list", "--bogus"], 2, "No such option: --bogus"),
    (["frobnicate"], 2, "No such command 'frobnicate'"),
    (["--threads", "0", "list"], 2, "'--threads'"),
    (["train", "nosuch/problem"], 2, "Unknown problem"),
    (["train", "supply_chain/1f2s", "--iterations", "0"], 2, "'--iterations'"),
    (["train", "supply_chain/1f2s", "--time-limit", "0"], 2, "--time-limit must be > 0"),
    (["train", "supply_chain/1f2s", "--workers", "-1"], 2, "'--workers'"),
    (["train", "supply_chain/1f2s", "--set", "checkpoint_every=0"], 2, "'checkpoint_every' must be >= 1"),
    (["train", "supply_chain/1f2s", "--set", "eval_every=-1"], 2, "'eval_every' must be >= 0"),
    (["train", "supply_chain/1f2s", "--set", "actor_lr=nan"], 2, "'actor_lr' must be > 0"),
    (["train", "supply_chain/1f2s", "--set", "steps=2.5"], 2, "'settings.steps' expects an integer"),
    (["train", "supply_chain/1f2s", "--set", "iterations"], 2, "key=value"),
    (["train", "supply_chain/1f2s", "--set", "no_such_key=1"], 2, "no_such_key"),
    (["train", "supply_chain/1f2s", "--algo", "no-such-recipe"], 2, "no-such-recipe"),
    (["train", "--config", "missing.toml"], 2, "config file not found"),
    (["train", "supply_chain", "--scenario", "missing.json"], 3, "missing.json"),
    (["eval", "mobility/nyc_brooklyn", "--episodes", "0"], 2, "'--episodes'"),
    (["eval", "mobility/nyc_brooklyn", "--episodes=-3"], 2, "'--episodes'"),
    (["eval", "mobility/nyc_brooklyn", "--episodes", "abc"], 2, "'--episodes'"),
    (["eval", "mobility/nyc_brooklyn", "--baselines", "clairvoyant"], 2, "unknown baseline"),
    (["eval", "mobility/nyc_brooklyn", "--baselines", "none"], 2, "nothing to evaluate"),
    (["eval", "supply_chain/1f2s", "--checkpoint", "missing.pt"], 4, "checkpoint not found"),
    (
        [
            "eval",
            "critical_node/rnd05-60",
            "--baselines",
            "exact",
            "--episodes",
            "1",
            "--set",
            "omega=3",
            "--set",
            "phi=3",
            "--set",
            "lam=3",
            "--set",
            "exact_time_limit=0.05",
        ],
        5,
        "exceeded its time limit",
    ),
    (["demo", "--minutes", "0"], 2, "--minutes must be > 0"),
    (["demo", "nosuch"], 2, "Unknown problem"),
    (["demo", "--episodes", "0"], 2, "'--episodes'"),
    (["sweep", "supply_chain/1f2s", "--seeds", "a,b", "--no-ray"], 2, "--seeds expects comma-separated integers"),
    (["sweep", "nosuch", "--no-ray"], 2, "Unknown problem"),
    (["sweep", "supply_chain/1f2s", "--minutes", "0", "--no-ray"], 2, "--minutes must be > 0"),
]


@pytest.mark.parametrize("args, code, needle", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_every_verb_on_bad_input_is_one_short_error_with_the_kind_s_exit_status(
    args, code, needle, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, args)
    err = _stderr(r)
    assert r.exit_code == code, (r.exit_code, r.output)
    assert code in EXIT_CODES
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3 and lines[0].startswith("Error: "), err
    assert needle in err, (needle, err)
    assert not list(tmp_path.glob("runs/*/*.pt")), "a refused command must not start a run"


def test_a_foreign_and_a_non_checkpoint_file_are_named(tmp_path):
    run = tmp_path / "mob"
    r = runner.invoke(
        app, ["train", "mobility/nyc_brooklyn", "--iterations", "1", "--run-dir", str(run), "--no-progress", *TINY]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["eval", "supply_chain/1f2s", "--checkpoint", str(run / "best.pt")])
    assert r.exit_code == 4 and "is for mobility/nyc_brooklyn (family mobility), not supply_chain/1f2s" in _stderr(r)
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    r = runner.invoke(app, ["eval", "supply_chain/1f2s", "--checkpoint", str(tmp_path / "passwd")])
    err = _stderr(r)
    assert r.exit_code == 4 and "not a readable checkpoint" in err and "weights_only" not in err
    assert len(err.strip().splitlines()) == 1


def test_debug_shows_the_traceback_and_a_bug_keeps_its_own(monkeypatch):
    r = runner.invoke(app, ["--debug", "eval", "nosuch"])
    assert isinstance(r.exception, ConfigError) and r.exit_code == 1
    monkeypatch.setenv("NETCTRL_DEBUG", "1")
    r = runner.invoke(app, ["eval", "nosuch"])
    assert isinstance(r.exception, NetctrlError)
    monkeypatch.delenv("NETCTRL_DEBUG")

    import netctrl.config as config

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(config, "experiment", bug)
    r = runner.invoke(app, ["eval", "mobility/nyc_brooklyn"])
    assert isinstance(r.exception, ZeroDivisionError) and r.exit_code == 1  # unexpected: not hidden


def test_help_lists_the_exit_statuses():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "exit status" in r.output and "--debug" in r.output
    r = runner.invoke(app, [])
    assert r.exit_code == 0 and "Usage" in r.output
