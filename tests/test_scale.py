"""Ray scale-out: rollout workers and sweeps on a local Ray instance, checked against the same work in-process."""

import json

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from netctrl.algos.ppo import Rollout  # noqa: E402
from netctrl.recipes.bilevel import init_policy, make_training_env  # noqa: E402
from netctrl.registry import get_problem, get_recipe  # noqa: E402
from netctrl.scale import RayCollector, RolloutWorker  # noqa: E402
from netctrl.sweep import run_sweep, sweep_jobs  # noqa: E402

PROBLEM = "supply_chain/1f2s"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


def _model_and_env():
    prob = get_problem(PROBLEM)
    make_env = make_training_env(prob, "lp")
    return init_policy(make_env, get_recipe("bilevel-ppo").make_config(prob).policy, seed=0), make_env


def test_ray_rollouts_equal_the_same_workers_in_process(local_ray):
    model, make_env = _model_and_env()
    seeds = [11, 11, 12, 12]
    collector = RayCollector(make_env, model, num_envs=4, steps=6, workers=2, seed=3)
    try:
        got = collector.collect(model, seeds, iteration=5)
        again = collector.collect(model, seeds, iteration=5)
    finally:
        collector.close()
    # the same two workers, run here one after the other
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    parts = []
    for i in range(2):
        w = RolloutWorker(make_env, _model_and_env()[0], 2, 6, seed=3, index=i)
        parts.append(w.collect(weights, seeds[2 * i : 2 * i + 2], 5))
    want = Rollout.concat(parts)
    for name in ("actions", "logps", "values", "rewards", "dones", "next_value"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
        np.testing.assert_array_equal(getattr(again, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(got.obs["x"], want.obs["x"])
    assert got.actions.shape[:2] == (6, 4) and sorted(got.episode_returns) == sorted(want.episode_returns)


def test_ppo_trains_with_ray_workers(local_ray, tmp_path):
    from netctrl.recipes import train

    res = train(PROBLEM, "bilevel-ppo", tmp_path / "run", iterations=2, eval_every=2, checkpoint_every=2, workers=2)
    assert res.iterations == 2 and res.episodes == 2 * 8  # 8 environments x one 30-step episode per iteration
    assert (tmp_path / "run" / "best.pt").exists()
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["workers"] == 2


def test_sweep_on_ray_equals_sweep_in_process(local_ray, tmp_path):
    grid = {"actor_lr": [1e-4, 1e-3]}
    fixed = {"iterations": 2, "eval_every": 2, "checkpoint_every": 2}
    on_ray = run_sweep(
        sweep_jobs([PROBLEM], [0], grid, fixed=fixed, runs=tmp_path / "ray"), use_ray=True, out=tmp_path / "ray.json"
    )
    here = run_sweep(sweep_jobs([PROBLEM], [0], grid, fixed=fixed, runs=tmp_path / "local"), use_ray=False)
    assert on_ray["backend"] == "ray" and here["backend"] == "local"
    assert [r["controller"] for r in on_ray["rows"]] == [r["controller"] for r in here["rows"]]
    assert len({r["controller"] for r in on_ray["rows"]}) == 2
    for a, b in zip(on_ray["rows"], here["rows"]):
        assert a["reward_mean"] == b["reward_mean"]  # same seed, same work: same numbers on either backend
        assert a["episodes"] == len(get_problem(PROBLEM).val_seeds)
    doc = json.loads((tmp_path / "ray.json").read_text())
    assert {"benchmark", "command", "machine", "date", "rows", "speed"} <= set(doc)


def test_worker_count_must_divide_the_groups():
    from netctrl.errors import ConfigError

    with pytest.raises(ConfigError, match="workers"):
        get_recipe("bilevel-ppo").make_config(get_problem(PROBLEM), {"ppo": {"workers": 3}})  # 8 envs, groups of 4


def test_a_killed_rollout_worker_is_restarted_and_its_rollout_is_the_same(local_ray):
    import threading
    import time

    model, make_env = _model_and_env()
    seeds = [11, 11, 12, 12]
    collector = RayCollector(make_env, model, num_envs=4, steps=30, workers=2, seed=3)
    try:
        want = collector.collect(model, seeds, iteration=1)
        killer = threading.Timer(0.3, lambda: ray.kill(collector.actors[1], no_restart=False))
        killer.start()
        t0 = time.perf_counter()
        got = collector.collect(model, seeds, iteration=1)  # worker 1 dies during this rollout
        killer.join()
        again = collector.collect(model, seeds, iteration=1)  # and serves the next one too
    finally:
        collector.close()
    for name in ("actions", "logps", "values", "rewards", "dones"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
        np.testing.assert_array_equal(getattr(again, name), getattr(want, name), err_msg=name)
    assert time.perf_counter() - t0 < 120


def test_a_rollout_that_does_not_come_back_in_time_is_an_error_not_a_hang(local_ray):
    from netctrl.errors import WorkerError

    model, make_env = _model_and_env()
    collector = RayCollector(make_env, model, num_envs=2, steps=30, workers=1, seed=3)
    collector.timeout_s = 0.01
    try:
        with pytest.raises(WorkerError, match="no answer within 0.01 s"):
            collector.collect(model, [1, 1], iteration=0)
    finally:
        collector.close()
    dead = RayCollector(make_env, model, num_envs=2, steps=30, workers=1, seed=3, max_restarts=0)
    try:
        ray.kill(dead.actors[0], no_restart=True)
        with pytest.raises(WorkerError, match="worker died"):
            dead.collect(model, [1, 1], iteration=0)
    finally:
        dead.close()
