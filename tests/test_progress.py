"""Progress bars of the long jobs (evaluation, routing and critical-node training, sweeps): drawn on stderr only when
it is a terminal, advanced to their totals, and never changing a result.

The bars are drawn on a fake terminal (``rich`` console on a ``StringIO`` with ``force_terminal=True``) by
patching :func:`netctrl.progress.progress_console`; what a bar showed last is read back from that text."""

import importlib
import io
import json
import re

import numpy as np
import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

import netctrl.progress
from netctrl.cli import app
from netctrl.evaluate import compare, evaluate
from netctrl.progress import Progress, track
from netctrl.recipes import train
from netctrl.registry import get_problem

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def bars(monkeypatch):
    """Bars drawn on a fake terminal; ``bars()`` is what was drawn, without the escape codes."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=200)
    monkeypatch.setattr(netctrl.progress, "progress_console", lambda: console)
    return lambda: ANSI.sub("", buf.getvalue()).replace("\r", "\n")


def last_count(text: str, description: str) -> tuple[int, int]:
    """``(completed, total)`` that the bar labelled ``description`` showed last."""
    found = re.findall(re.escape(description) + r" \S+ +(\d+)/(\d+) ", text)
    assert found, f"no bar {description!r} in:\n{text[-2000:]}"
    done, total = found[-1]
    return int(done), int(total)


# ------------------------------------------------------------------------------------------------ the bar
def test_a_bar_is_drawn_only_on_a_terminal_and_reaches_its_total():
    quiet = io.StringIO()
    bar = Progress(3, "work", console=Console(file=quiet))  # not a terminal: nothing, not even a start
    assert not bar.enabled
    bar.update(1, "status")
    bar.close()
    assert quiet.getvalue() == ""
    assert not Progress(3, "work", enabled=False, console=Console(file=io.StringIO(), force_terminal=True)).enabled
    shown = io.StringIO()
    with Progress(3, "work", console=Console(file=shown, force_terminal=True, width=120)) as bar:
        for _ in range(3):
            bar.update(1, "step")
    assert last_count(ANSI.sub("", shown.getvalue()), "work") == (3, 3)
    assert netctrl.progress.progress_console().stderr  # the default console is stderr


def test_track_yields_every_item_and_closes_its_bar_when_the_loop_breaks(bars):
    assert list(track(range(4), "items")) == [0, 1, 2, 3]
    assert last_count(bars(), "items") == (4, 4)
    for k in track(range(5), "cut"):
        if k == 1:
            break
    assert last_count(bars(), "cut") == (1, 5)
    with Progress(1, "after") as bar:  # the broken loop's bar is no longer live
        bar.update(1)
    assert last_count(bars(), "after") == (1, 1)


# ------------------------------------------------------------------------------------------------ evaluation
def _fast_baselines(spec):
    return {k: v for k, v in spec.baselines(0).items() if k != "oracle"}  # the oracle MPC: an LP per step


def test_evaluation_with_progress_gives_the_rewards_of_evaluation_without(bars):
    spec = get_problem("network_flow/gabriel-10")
    seeds = [1000, 1001]
    quiet = compare(spec, _fast_baselines(spec), seeds)
    shown = compare(spec, _fast_baselines(spec), seeds, progress=True)
    assert [r.controller for r in shown] == [r.controller for r in quiet]
    for a, b in zip(quiet, shown):
        assert np.array_equal(a.result.rewards, b.result.rewards), a.controller
        assert [e.info_sums for e in a.result.episodes] == [e.info_sums for e in b.result.episodes]
        assert a.pct_of_reference == b.pct_of_reference
    text = bars()
    n = len(quiet)
    assert last_count(text, f"eval random ({n}/{n})") == (n * len(seeds), n * len(seeds))
    assert "episode 2/2" in text
    one = evaluate(spec.baselines(0)["shortest-path"], spec.make_env, seeds, make_lower=spec.make_lower, progress=True)
    assert np.array_equal(one.rewards, next(r for r in quiet if r.controller == "shortest-path").result.rewards)
    assert last_count(bars(), "eval shortest-path") == (2, 2)


def test_the_bar_shows_the_steps_of_a_slow_episode(bars, monkeypatch):
    """Every step reaches the bar's status (throttled to 10 per second, here not at all); rich draws the latest
    status at its next refresh, so a controller taking many seconds a step shows each one."""
    ev = importlib.import_module("netctrl.evaluate")  # (netctrl.evaluate is also the function)
    real = ev._step_status
    monkeypatch.setattr(ev, "_step_status", lambda bar, episode: real(bar, episode, every_s=0.0))
    statuses = []
    update = Progress.update
    monkeypatch.setattr(Progress, "update", lambda self, *a, **k: statuses.append(a[1:2]) or update(self, *a, **k))
    spec = get_problem("network_flow/gabriel-10")
    res = evaluate(spec.baselines(0)["shortest-path"], spec.make_env, [1000], progress=True)
    steps = [int(m[1]) for (s,) in filter(None, statuses) if (m := re.fullmatch(r"episode 1/1, step (\d+)", s or ""))]
    assert steps == list(range(1, res.episodes[0].steps + 1))
    assert last_count(bars(), "eval shortest-path") == (1, 1)


def test_cli_eval_prints_its_bar_on_stderr_and_nothing_more_on_stdout(tmp_path, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich takes the runner's stderr (and stdout) for a terminal
    monkeypatch.setattr(netctrl.progress, "_CONSOLE", None)
    runner = CliRunner()
    args = ["eval", "network_flow/gabriel-10", "--episodes", "2", "--baselines", "shortest-path,random"]
    quiet = runner.invoke(app, [*args, "--no-progress", "--json", str(tmp_path / "quiet.json")])
    shown = runner.invoke(app, [*args, "--json", str(tmp_path / "shown.json")])
    assert quiet.exit_code == 0 and shown.exit_code == 0, shown.output
    assert quiet.stderr == "" and "eval random (2/2)" in shown.stderr and "episode 2/2" in shown.stderr
    for text in (quiet.stdout, shown.stdout):
        assert "eval random (" not in text and "episode 1/2" not in text and "\x1b[?25l" not in text  # no bar
    assert len(shown.stdout.splitlines()) == len(quiet.stdout.splitlines())
    assert shown.stdout.splitlines()[:4] == quiet.stdout.splitlines()[:4]  # title and header

    def records(name):
        return [{k: v for k, v in r.items() if k != "decision_ms"} for r in json.loads((tmp_path / name).read_text())]

    assert records("shown.json") == records("quiet.json")


# ------------------------------------------------------------------------------------------------ training
ROUTING_TINY = {"mamrl.horizon": 20, "mamrl.hidden": 8, "teacher.episodes": 1, "teacher.epochs": 1}


def test_routing_training_bars_reach_their_totals(tmp_path, bars):
    train("routing/b4", "mamrl", tmp_path / "mamrl", meta_iterations=2, episodes=3, progress=True, **ROUTING_TINY)
    text = bars()
    assert last_count(text, "mamrl teacher episodes") == (1, 1)
    assert last_count(text, "meta-iterations") == (2, 2)
    assert last_count(text, "mamrl online episodes") == (3, 3)
    train("routing/b4", "pg", tmp_path / "pg", episodes=2, progress=True, **{"pg.horizon": 20, "pg.hidden": 8})
    assert last_count(bars(), "pg online episodes") == (2, 2)
    train(get_problem("routing/b4", horizon=20), "q-routing", tmp_path / "q", episodes=2, progress=True)
    assert last_count(bars(), "q-routing warm-up episodes") == (2, 2)


def test_curriculum_training_bars_reach_their_totals_and_change_nothing(tmp_path, bars):
    tiny = dict(max_budget=2, states_per_stage=16, val_states=4, epochs=3)
    shown = train("critical_node/d1", "multil-cur", tmp_path / "shown", progress=True, **tiny)
    text = bars()
    assert last_count(text, "multil-cur budget 1/2: states labelled") == (20, 20)
    assert last_count(text, "multil-cur budget 2/2: states labelled") == (20, 20)
    assert last_count(text, "multil-cur budget 2/2: epochs") == (3, 3)
    assert "exact" in text and "look-ahead with V_1" in text
    quiet = train("critical_node/d1", "multil-cur", tmp_path / "quiet", **tiny)
    for b in (1, 2):
        for v, w in zip(shown.model[b].state_dict().values(), quiet.model[b].state_dict().values()):
            assert torch.equal(v, w), b
    dqn = dict(updates=4, target_every=2, batch_size=8, max_budget=2)
    train("critical_node/d1", "multil-dqn", tmp_path / "dqn", progress=True, **{f"dqn.{k}": v for k, v in dqn.items()})
    assert last_count(bars(), "multil-dqn updates") == (4, 4)


def test_hypergrad_and_sweep_bars_reach_their_totals(tmp_path, bars):
    from netctrl.sweep import run_sweep, sweep_jobs

    train("toll_design/braess", "hypergrad", tmp_path / "hg", iterations=3, progress=True)
    assert last_count(bars(), "hypergrad iterations") == (3, 3)
    jobs = sweep_jobs(["toll_design/braess"], [0, 1], algo="hypergrad", fixed={"iterations": 2}, runs=tmp_path / "sw")
    doc = run_sweep(jobs, use_ray=False, progress=True)
    assert len(doc["rows"]) == 2
    assert last_count(bars(), "sweep jobs") == (2, 2)
