"""Faults a long training run meets: kill -9 at random points, a full disk or read-only run directory, damaged
checkpoint bytes, a run directory that already holds a run, NaN out of a policy.

The kill test runs ``netctrl train`` in a subprocess, kills it with SIGKILL at random moments (while it steps
environments, updates, or writes a checkpoint: every iteration checkpoints), checks after every kill that
``last.pt`` (if any) is a valid checkpoint, resumes with ``--resume`` until the run finishes, and compares the
final ``last.pt`` and ``best.pt`` with an uninterrupted run's, tensor by tensor. The default run kills twice on
one family; the slow suite 20 times on each flow family.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from netctrl.errors import ActionError, CheckpointError
from netctrl.train import load_checkpoint, save_checkpoint

TINY = {
    "num_envs": 2,
    "group_size": 2,
    "rollout_steps": 20,
    "minibatch_size": 20,
    "update_epochs": 2,
    "eval_every": 2,
    "checkpoint_every": 1,
}
FAMILIES = {
    "mobility": "mobility/nyc_brooklyn",
    "supply_chain": "supply_chain/1f2s",
    "network_flow": "network_flow/gabriel-10",
}


def _timing(key) -> bool:
    """Entries that depend on wall time (``wall_s``, ``iter_s`` ...), not on the run's state."""
    return isinstance(key, str) and (key.endswith("_s") or key == "checksum")


def _cli(problem: str, run: Path, iterations: int) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "netctrl.cli",
        "train",
        problem,
        "--run-dir",
        str(run),
        "--iterations",
        str(iterations),
        "--no-progress",
        "--resume",
    ]
    for k, v in TINY.items():
        args += ["--set", f"{k}={v}"]
    if problem.startswith("network_flow"):
        args += ["--set", "imitation=false"]  # PPO from the start (DAgger pretraining takes minutes)
    return args


def _same(a, b, where="checkpoint") -> None:
    """Checkpoint contents equal, tensors bit for bit, timing entries aside."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        keys = {k for k in a if not _timing(k)}
        assert keys == {k for k in b if not _timing(k)}, (where, sorted(map(str, keys ^ set(b))))
        for k in keys:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b or (a != a and b != b), (where, a, b)


def _strip_metrics(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if not _timing(k)} for line in path.read_text().splitlines()]


def kill_and_resume(problem: str, tmp_path: Path, kills: int, iterations: int, seed: int = 0) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    ref = tmp_path / "ref"
    subprocess.run(_cli(problem, ref, iterations), check=True, env=env, capture_output=True, timeout=600)
    wall = json.loads((ref / "metrics.jsonl").read_text().splitlines()[-1]).get("wall_s")
    train_s = float(wall) if wall else 5.0

    rng = np.random.default_rng(seed)
    run, killed, starts = tmp_path / "cut", 0, 0
    while True:
        starts += 1
        assert starts <= kills + 5, "the run did not finish"
        proc = subprocess.Popen(
            _cli(problem, run, iterations), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if killed < kills:
            # wait for training to start (config.toml is written first), then kill at a random moment of it
            deadline = time.monotonic() + 120
            while not (run / "config.toml").exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(float(rng.uniform(0.0, train_s)))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
        _, err = proc.communicate(timeout=600)
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        if (run / "last.pt").exists():  # never a corrupt last.pt, whenever the kill came
            load_checkpoint(run / "last.pt")
    assert killed == kills or starts > 1
    for name in ("last.pt", "best.pt"):
        _same(load_checkpoint(ref / name), load_checkpoint(run / name), name)
    assert _strip_metrics(run / "metrics.jsonl") == _strip_metrics(ref / "metrics.jsonl")
    assert not list(run.glob(".*.pt.*")), "stale temporary files left"


def test_kill_9_then_resume_gives_the_uninterrupted_run(tmp_path):
    kill_and_resume(FAMILIES["supply_chain"], tmp_path, kills=2, iterations=4)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_kill_9_at_20_random_points_then_resume_is_bit_identical(tmp_path, family):
    kill_and_resume(FAMILIES[family], tmp_path, kills=20, iterations=12, seed=hash(family) % 1000)


# ------------------------------------------------------------------------------------------------ writes
def _tiny_run(run: Path, iterations: int = 1, **extra):
    from netctrl.recipes import train

    return train("supply_chain/1f2s", "bilevel-ppo", run, iterations=iterations, **TINY, **extra)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failed_checkpoint_write_is_a_clear_error_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, err):
    from typer.testing import CliRunner

    from netctrl.cli import app

    run = tmp_path / "run"
    _tiny_run(run)
    before = (run / "last.pt").read_bytes()

    def no_space(fd):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr("netctrl.train.os.fsync", no_space)
    args = ["train", "supply_chain/1f2s", "--run-dir", str(run), "--resume", "--iterations", "3", "--no-progress"]
    for k, v in TINY.items():
        args += ["--set", f"{k}={v}"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 8, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) <= 3 and lines[-1].startswith("Error: cannot write ") and os.strerror(err) in lines[-1]
    assert "the previous file is kept" in lines[-1]
    assert (run / "last.pt").read_bytes() == before and load_checkpoint(run / "last.pt")["iteration"] == 1
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def test_stale_temporary_files_are_removed_and_resume_continues(tmp_path):
    run = tmp_path / "run"
    _tiny_run(run, iterations=1)
    (run / ".last.pt.k2j3h4").write_bytes(b"half a checkpoint")  # what a kill during a write leaves
    (run / ".best.pt.x9y8z7").write_bytes(b"")
    res = _tiny_run(run, iterations=2, resume=True)
    assert res.iterations == 2 and not [p for p in run.iterdir() if p.name.startswith(".")]


def test_best_is_written_before_last(tmp_path, monkeypatch):
    """A kill between the two writes of an iteration that improved leaves best.pt ahead of last.pt, never behind."""
    import netctrl.train as tr

    order = []
    real = tr.save_checkpoint
    monkeypatch.setattr(
        tr, "save_checkpoint", lambda path, payload: (order.append(Path(path).name), real(path, payload))
    )
    _tiny_run(tmp_path / "run", iterations=2)
    firsts = [order[i] for i in range(len(order) - 1) if order[i] == "best.pt"]
    assert firsts and all(order[i + 1] == "last.pt" for i in range(len(order) - 1) if order[i] == "best.pt")


def test_a_run_directory_is_never_overwritten_without_overwrite(tmp_path):
    from typer.testing import CliRunner

    from netctrl.cli import app

    run = tmp_path / "run"
    _tiny_run(run, iterations=2)
    kept = {p.name: p.read_bytes() for p in run.iterdir()}
    args = ["train", "supply_chain/1f2s", "--run-dir", str(run), "--iterations", "1", "--no-progress"]
    for k, v in TINY.items():
        args += ["--set", f"{k}={v}"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "already holds a run" in r.output and "--overwrite" in r.output
    assert {p.name: p.read_bytes() for p in run.iterdir()} == kept
    r = CliRunner().invoke(app, args + ["--resume", "--overwrite"])
    assert r.exit_code == 2 and "give one of them" in r.output
    r = CliRunner().invoke(app, args + ["--overwrite"])
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run / "last.pt")["iteration"] == 1
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert json.loads((run / "config.json").read_text())["iterations"] == 1  # no stale config.json


# ------------------------------------------------------------------------------------------------ damage
def _flip_tensor_bytes(path: Path, out: Path) -> None:
    """Rewrite the checkpoint zip with bytes of its largest tensor record changed (a bit rot torch won't see)."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    data = [k for k, (i, b) in enumerate(items) if "/data/" in i.filename]
    k = max(data, key=lambda k: len(items[k][1]))
    info, blob = items[k]
    blob = bytearray(blob)
    blob[len(blob) // 2] ^= 0xFF
    items[k] = (info, bytes(blob))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for i, b in items:
            z.writestr(i, b)


def test_overwritten_weight_bytes_are_detected_by_the_checksum(tmp_path):
    run = tmp_path / "run"
    _tiny_run(run)
    _flip_tensor_bytes(run / "best.pt", tmp_path / "rot.pt")
    torch.load(tmp_path / "rot.pt", weights_only=True)  # torch itself reads it without complaint
    with pytest.raises(CheckpointError, match="damaged checkpoint.*checksum"):
        load_checkpoint(tmp_path / "rot.pt")
    ck = load_checkpoint(run / "best.pt")
    ck["config"]["iterations"] = 999  # an edited entry shows too
    torch.save(ck, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(tmp_path / "edited.pt")


def test_checkpoints_carry_their_identity_and_a_mismatch_is_named(tmp_path):
    from netctrl._version import __version__
    from netctrl.recipes import load
    from netctrl.registry import get_problem

    run = tmp_path / "run"
    _tiny_run(run)
    ck = load_checkpoint(run / "best.pt")
    assert ck["format"] == "netctrl-checkpoint" and ck["version"] == 3 and ck["netctrl"] == __version__
    assert ck["recipe"] == "bilevel-ppo" and ck["problem"]["name"] == "supply_chain/1f2s"
    assert ck["problem"]["family"] == "supply_chain" and isinstance(ck["problem"]["settings"], dict)
    assert set(ck["graph"]) == {"nodes", "edges", "node_features", "edge_features"}
    assert ck["policy_config"]["node_features"] == ck["graph"]["node_features"]
    with pytest.raises(CheckpointError, match="is for supply_chain/1f2s .*not mobility/nyc_brooklyn"):
        load(run / "best.pt", get_problem("mobility/nyc_brooklyn"))
    # a policy that reads another number of features than the problem gives (a changed feature set)
    ck["policy_config"]["node_features"] += 1
    save_checkpoint(tmp_path / "other.pt", {k: v for k, v in ck.items() if k not in ("format", "version", "netctrl")})
    with pytest.raises(CheckpointError, match="reads .* node features .* supply_chain/1f2s has"):
        load(tmp_path / "other.pt", get_problem("supply_chain/1f2s"))
    # a checkpoint of a newer netctrl, and a file with no version
    ck = load_checkpoint(run / "best.pt")
    for version, match in ((99, "newer than this netctrl reads"), ("x", "no valid format version")):
        torch.save({**ck, "version": version}, tmp_path / "v.pt")
        with pytest.raises(CheckpointError, match=match):
            load_checkpoint(tmp_path / "v.pt")


def test_files_that_are_not_checkpoints_never_suggest_unsafe_loading(tmp_path):
    cases = {
        "text.pt": b"hello",
        "empty.pt": b"",
        "zip.pt": b"PK\x03\x04" + b"\x00" * 40,
        "passwd.pt": b"root:x:0:0:root:/root:/bin/bash\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CheckpointError, match="not a readable checkpoint") as err:
            load_checkpoint(tmp_path / name)
        assert "weights_only" not in str(err.value) and "IndexError" not in str(err.value)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a netctrl checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


# ------------------------------------------------------------------------------------------------ NaN
@pytest.mark.parametrize("problem", sorted(FAMILIES.values()))
def test_nan_or_inf_from_a_policy_is_caught_before_the_lower_level(problem):
    from netctrl.bilevel import BilevelWrapper
    from netctrl.registry import get_problem

    spec = get_problem(problem)
    for lower in spec.lowers:
        raw = spec.make_env()
        env = BilevelWrapper(raw, spec.make_lower(lower, raw))
        env.reset(seed=1)
        state = raw.flow_state()
        good = (
            env.action_space.sample() if np.isfinite(env.action_space.high).all() else np.zeros(env.action_space.shape)
        )
        for bad in (np.nan, np.inf, -np.inf):
            a = np.asarray(good, dtype=np.float64).copy()
            a[0] = bad
            with pytest.raises(ActionError, match="finite"):
                env.step(a)
            with pytest.raises(ActionError, match="finite|NaN"):  # the lower level checks on its own too
                env.lower.solve(state, a)
        assert raw.t == 0  # nothing stepped


def test_a_policy_with_nan_weights_is_an_action_error_not_a_nan_reward():
    from netctrl.evaluate import evaluate
    from netctrl.policies.actor_critic import PolicyController
    from netctrl.recipes.bilevel import init_policy, make_training_env
    from netctrl.registry import get_problem, get_recipe

    spec = get_problem("supply_chain/1f2s")
    model = init_policy(make_training_env(spec, "lp"), get_recipe("bilevel-ppo").make_config(spec).policy, seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    with pytest.raises(ActionError, match="NaN"):
        evaluate(
            PolicyController(model, lower="lp", deterministic=True), spec.make_env, [1000], make_lower=spec.make_lower
        )


@pytest.mark.parametrize("problem", sorted(FAMILIES.values()))
def test_actions_far_outside_the_declared_box_are_refused_and_change_nothing(problem):
    from netctrl.registry import get_problem

    env = get_problem(problem).make_env()
    env.reset(seed=3)
    before = env.unwrapped.flow_state()
    for value in (1e300, 1e30, float(env.action_space.high.max()) * 10):
        a = np.zeros(env.action_space.shape)
        a[0] = value
        with pytest.raises(ActionError, match="outside its bounds"):
            env.step(a)
    assert env.unwrapped.t == 0 and repr(env.unwrapped.flow_state()) == repr(before)
    env.step(np.asarray(env.action_space.high, dtype=np.float64) * 0 + env.action_space.low)  # the bound itself is fine


def test_the_exact_critical_node_baseline_has_a_default_time_limit():
    from netctrl.registry import get_problem

    spec = get_problem("critical_node/rnd05-60")
    assert spec.settings.exact_time_limit == 600.0
    assert spec.baselines(0)["exact"].time_limit == 600.0


def test_a_toll_design_applies_only_to_the_network_it_was_designed_for(tmp_path):
    """Pigou's network has as many tollable arcs as Braess's: the design used to be applied to it silently."""
    from netctrl.recipes import load, train
    from netctrl.registry import get_problem

    train("toll_design/braess", "hypergrad", tmp_path / "run", iterations=1)
    assert load(tmp_path / "run" / "best.pt", get_problem("toll_design/braess")).theta.size == 1
    with pytest.raises(CheckpointError, match="tolls designed for toll_design/braess.*not apply to toll_design/pigou"):
        load(tmp_path / "run" / "best.pt", get_problem("toll_design/pigou"))


def test_a_demo_replaces_its_previous_run_whole(tmp_path, capsys):
    """The demo's run directory is scratch; what it holds after a second demo is that demo's, config.json too."""
    from netctrl.demo import run_demo

    for iterations in (2, 1):
        run_demo(
            "supply_chain/1f2s",
            minutes=1.0,
            episodes=1,
            out=tmp_path,
            seed=0,
            iterations=iterations,
            sets={"num_envs": 2, "group_size": 2, "minibatch_size": 20, "rollout_steps": 20},
        )
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["iterations"] == 1
    assert load_checkpoint(run / "last.pt")["iteration"] == 1
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_toll_design_from_a_file_loads_with_the_same_file_under_another_path(tmp_path, monkeypatch):
    import shutil
    from importlib import resources

    from netctrl.recipes import load, train
    from netctrl.registry import load_problem

    with resources.as_file(resources.files("netctrl").joinpath("data", "topologies", "b4.json")) as b4:
        shutil.copy(b4, tmp_path / "mine.json")
    monkeypatch.chdir(tmp_path)
    train(load_problem("toll_design", "mine.json"), "hypergrad", tmp_path / "run", iterations=1)
    assert load(tmp_path / "run" / "best.pt", load_problem("toll_design", str(tmp_path / "mine.json"))).theta.size
    shutil.copy(tmp_path / "mine.json", tmp_path / "other.json")
    with pytest.raises(CheckpointError, match="tolls designed for"):
        load(tmp_path / "run" / "best.pt", load_problem("toll_design", "other.json"))
