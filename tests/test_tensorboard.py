"""Metrics in TensorBoard event files (``<run_dir>/tensorboard/``), checked against the run's own ``metrics.jsonl``:
every scalar of every row at the row's step, for the PPO loop and for the recipes that log outside it (routing,
curriculum, toll design); a resumed run continues the log without a step twice; the overwrite guard knows the
directory; without the extra, a one-line error names it."""

import json
import math
import shutil
import sys

import pytest
from typer.testing import CliRunner

from netctrl.cli import app
from netctrl.errors import DependencyNotInstalled
from netctrl.recipes import train
from netctrl.train import RUN_FILES, TENSORBOARD_DIR, MetricsLogger

PPO_TINY = dict(num_envs=2, group_size=2, rollout_steps=20, minibatch_size=20, update_epochs=1, eval_every=1)


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """``tag -> [(step, value), ...]`` of the run's TensorBoard log, as TensorBoard reads it (purged steps gone)."""
    EventAccumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator").EventAccumulator
    acc = EventAccumulator(str(run_dir / TENSORBOARD_DIR), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def expected(run_dir, step_key: str | None = "iteration") -> dict[str, list[tuple[int, float]]]:
    """The same, from ``metrics.jsonl``: every number of a row at its step (``step_key``, else its line)."""
    out: dict[str, list] = {}
    for line, text in enumerate((run_dir / "metrics.jsonl").read_text().splitlines(), 1):
        row = json.loads(text)
        step = row.get(step_key, line)
        prefix = f"{row['phase']}/" if "phase" in row else ""
        for k, v in row.items():
            if k != step_key and isinstance(v, (int, float)) and not isinstance(v, bool):
                out.setdefault(prefix + k, []).append((step, v))
    return out


def assert_same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for tag, points in want.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
        for (_, a), (_, b) in zip(got[tag], points):  # event files store float32
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-6, abs=1e-6), tag


def test_ppo_scalars_in_tensorboard_equal_metrics_jsonl_and_a_resume_continues_the_log(tmp_path):
    run = tmp_path / "run"
    train("supply_chain/1f2s", "bilevel-ppo", run, iterations=2, tensorboard=True, **PPO_TINY)
    got = scalars(run)
    assert {"train_reward", "eval_reward", "pg_loss", "v_loss"} <= set(got)
    assert_same(got, expected(run))
    assert [s for s, _ in got["eval_reward"]] == [1, 2]
    # an interrupted run: its log holds iterations 3-4, its last checkpoint is the one of iteration 2
    shutil.copy(run / "last.pt", tmp_path / "last-2.pt")
    train("supply_chain/1f2s", "bilevel-ppo", run, iterations=4, resume=True, tensorboard=True, **PPO_TINY)
    assert [s for s, _ in scalars(run)["eval_reward"]] == [1, 2, 3, 4]
    shutil.copy(tmp_path / "last-2.pt", run / "last.pt")
    train("supply_chain/1f2s", "bilevel-ppo", run, iterations=4, resume=True, tensorboard=True, **PPO_TINY)
    got = scalars(run)
    assert [s for s, _ in got["eval_reward"]] == [1, 2, 3, 4]  # steps 3-4 once, from the resumed run
    assert_same(got, expected(run))
    assert len(list((run / TENSORBOARD_DIR).glob("events.out.tfevents.*"))) == 3
    late = tmp_path / "late"  # trained without TensorBoard, resumed with it: the log starts with the kept rows
    train("supply_chain/1f2s", "bilevel-ppo", late, iterations=1, **PPO_TINY)
    train("supply_chain/1f2s", "bilevel-ppo", late, iterations=2, resume=True, tensorboard=True, **PPO_TINY)
    assert [s for s, _ in scalars(late)["eval_reward"]] == [1, 2]
    assert_same(scalars(late), expected(late))


def test_routing_curriculum_and_toll_recipes_log_through_the_metrics_logger(tmp_path):
    tiny = {"mamrl.horizon": 20, "mamrl.hidden": 8, "teacher.episodes": 1, "teacher.epochs": 1}
    mamrl = train("routing/b4", "mamrl", tmp_path / "mamrl", meta_iterations=2, episodes=3, tensorboard=True, **tiny)
    got = scalars(tmp_path / "mamrl")
    assert {"meta/delivery_time", "online/delivery_time"} <= set(got)
    assert [s for s, _ in got["online/delivery_time"]] == [3, 4, 5]  # after the 2 meta-iterations
    assert_same(got, expected(tmp_path / "mamrl", step_key=None))
    assert len((tmp_path / "mamrl" / "metrics.jsonl").read_text().splitlines()) == len(mamrl.history) == 5
    cur = dict(max_budget=2, states_per_stage=16, val_states=4, epochs=2)
    train("critical_node/d1", "multil-cur", tmp_path / "cur", tensorboard=True, **cur)
    assert [s for s, _ in scalars(tmp_path / "cur")["val_mse"]] == [1, 2]
    assert_same(scalars(tmp_path / "cur"), expected(tmp_path / "cur", "budget"))
    train("toll_design/braess", "hypergrad", tmp_path / "hg", iterations=3, tensorboard=True)
    assert [s for s, _ in scalars(tmp_path / "hg")["objective"]] == [1, 2, 3]
    assert_same(scalars(tmp_path / "hg"), expected(tmp_path / "hg"))
    q = train("routing/b4", "q-routing", tmp_path / "q", episodes=2, tensorboard=True, horizon=20)
    assert_same(scalars(tmp_path / "q"), expected(tmp_path / "q", "episode"))
    assert len(q.history) == 2


def test_without_tensorboard_flag_no_event_files_and_the_overwrite_guard_knows_the_directory(tmp_path):
    pytest.importorskip("tensorboard")
    assert "tensorboard" in RUN_FILES
    run = tmp_path / "run"
    args = ["train", "toll_design/braess", "--algo", "hypergrad", "--iterations", "2", "--run-dir", str(run)]
    runner = CliRunner()
    assert runner.invoke(app, [*args, "--no-progress"]).exit_code == 0
    assert not (run / TENSORBOARD_DIR).exists()
    assert runner.invoke(app, [*args, "--no-progress", "--overwrite", "--tensorboard"]).exit_code == 0
    assert list((run / TENSORBOARD_DIR).glob("events.out.tfevents.*"))
    for f in (run / "best.pt", run / "last.pt", run / "metrics.jsonl", run / "metrics.csv", run / "config.json"):
        f.unlink()
    (run / "config.toml").unlink()
    refused = runner.invoke(app, [*args, "--no-progress", "--tensorboard"])  # only the TensorBoard log is left
    assert refused.exit_code == 2 and "already holds a run (tensorboard)" in refused.output
    assert runner.invoke(app, [*args, "--no-progress", "--overwrite"]).exit_code == 0
    assert not (run / TENSORBOARD_DIR).exists()  # --overwrite removed the old log


def test_tensorboard_without_the_extra_is_a_one_line_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with pytest.raises(DependencyNotInstalled, match=r"netctrl\[tensorboard\]"):
        MetricsLogger(tmp_path / "x", tensorboard=True)
    assert not (tmp_path / "x").exists()
    run = tmp_path / "run"
    r = CliRunner().invoke(
        app, ["train", "toll_design/braess", "--algo", "hypergrad", "--run-dir", str(run), "--tensorboard"]
    )
    assert r.exit_code == 7 and r.output.startswith("Error: ") and "pip install 'netctrl[tensorboard]'" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not run.exists()  # nothing written
