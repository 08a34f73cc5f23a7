"""Scale-out on Ray (the optional ``ray`` extra: ``pip install 'netctrl[ray]'``).

Two things run on Ray, locally or on a cluster, with the same configs and the same results format as in one
process:

* **rollout workers** for PPO (``PPOConfig.workers = N``, ``netctrl train --workers N``): :class:`RayCollector`
  starts N actors, each holding its share of the vectorised environments and a copy of the policy; every
  iteration it broadcasts the weights (one object in Ray's store), each actor steps its environments with
  its own batched policy forwards, and the learner joins the rollouts and updates as usual;
* **sweeps** (``netctrl sweep``): :func:`run_sweep` trains and validates seeds x problems x hyper-parameters,
  one Ray task per job (or one after the other in this process without Ray).

On a cluster: start Ray on the machines (``ray start --head`` on one, ``ray start --address=HEAD:6379`` on the
others), install netctrl (same version) on every node, and pass ``--ray-address auto`` (on a node of the
cluster) or ``--ray-address ray://HEAD:10001`` (Ray client). Without ``--ray-address`` a local Ray instance
with this machine's cores is started. Run directories are written by the workers, so on a cluster give
``--runs`` a path every node shares.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .algos.ppo import LocalCollector, Rollout, collect_rollout, make_vector_env


def require_ray():
    """Import Ray, or explain how to get it."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("Ray is not installed: pip install 'netctrl[ray]' (or run with workers=0 / without --ray)") from exc
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to the Ray cluster at ``address`` or start a local instance (once per process)."""
    ray = require_ray()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "configure_logging": False, "log_to_driver": True}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), **kwargs)


# ---------------------------------------------------------------------------------------------- rollouts
class RolloutWorker:
    """A Ray actor's state: ``num_envs`` environments and a policy copy (weights refreshed every iteration)."""

    def __init__(self, make_env: Callable, model, num_envs: int, steps: int, seed: int, index: int) -> None:
        from .train import configure_threads

        configure_threads(1)
        self.envs = make_vector_env(make_env, num_envs)
        self.model = model
        self.model.eval()
        self.steps, self.seed, self.index = steps, seed, index

    def action_shape(self) -> tuple[int, ...]:
        return self.envs.single_action_space.shape

    def collect(self, weights: dict, seeds: list[int], iteration: int) -> Rollout:
        import torch

        self.model.load_state_dict(weights)
        # action sampling: a stream per (run seed, iteration, worker), so a run is reproducible for a given N
        torch.manual_seed(int(np.random.SeedSequence([self.seed, iteration, self.index]).generate_state(1)[0]))
        return collect_rollout(self.model, self.envs, seeds, self.steps)

    def close(self) -> None:
        self.envs.close()


class RayCollector:
    """PPO rollouts on ``workers`` Ray actors (``num_envs`` split evenly, each actor ``cpus_per_worker`` CPUs
    of Ray's accounting: a fraction when several collectors, one per training graph, share the workers)."""

    def __init__(self, make_env: Callable, model, num_envs: int, steps: int, workers: int, seed: int = 0,
                 cpus_per_worker: float = 1.0) -> None:
        ray = require_ray()
        init_ray()
        if num_envs % workers:
            raise ValueError(f"num_envs ({num_envs}) must be a multiple of workers ({workers})")
        self.ray, self.per = ray, num_envs // workers
        actor = ray.remote(num_cpus=cpus_per_worker)(RolloutWorker)
        template = copy.deepcopy(model).cpu()
        self.actors = [actor.remote(make_env, template, self.per, steps, seed, i) for i in range(workers)]
        self.action_shape = tuple(ray.get(self.actors[0].action_shape.remote()))

    def collect(self, model, seeds: Sequence[int], iteration: int) -> Rollout:
        weights = self.ray.put({k: v.detach().cpu() for k, v in model.state_dict().items()})
        seeds = list(seeds)
        futures = [a.collect.remote(weights, seeds[i * self.per : (i + 1) * self.per], iteration)
                   for i, a in enumerate(self.actors)]
        return Rollout.concat(self.ray.get(futures))

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []


def rollout_throughput(problem: str, workers: int, iterations: int = 5, agent: str = "bilevel", seed: int = 0,
                       num_envs: int | None = None) -> dict:
    """Environment steps per second of PPO rollout collection (policy forward + lower level + simulator), in
    this process (``workers=0``) or on ``workers`` Ray actors; the first iteration (start-up) is not timed."""
    from .registry import get_problem
    from .runner import algo_config, init_policy, lower_of, make_training_env

    prob = get_problem(problem)
    cfg = algo_config("ppo", prob, agent, seed=seed, **({"num_envs": num_envs} if num_envs else {}))
    make_env = make_training_env(prob, lower_of(agent))
    model = init_policy(prob, agent, make_env, seed)
    collector = (RayCollector(make_env, model, cfg.num_envs, cfg.rollout_steps, workers, seed) if workers
                 else LocalCollector(make_env, cfg.num_envs, cfg.rollout_steps))
    try:
        seeds = list(range(cfg.num_envs))
        collector.collect(model, seeds, 0)
        t0 = time.perf_counter()
        for it in range(1, iterations + 1):
            collector.collect(model, seeds, it)
        wall = time.perf_counter() - t0
    finally:
        collector.close()
    steps = iterations * cfg.num_envs * cfg.rollout_steps
    return {"workers": workers, "steps": steps, "wall_s": wall, "steps_per_s": steps / wall}


# ---------------------------------------------------------------------------------------------- sweeps
@dataclass
class SweepJob:
    """One training run of a sweep."""

    problem: str
    seed: int
    params: dict = field(default_factory=dict)
    """algorithm options (``PPOConfig`` fields) of this job."""
    agent: str = "bilevel"
    algo: str = "ppo"
    run_dir: str = ""

    @property
    def tag(self) -> str:
        p = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.agent}-{self.algo}" + (f"[{p}]" if p else "")


def sweep_jobs(problems: Sequence[str], seeds: Sequence[int], grid: dict[str, Sequence] | None = None, *,
               agent: str = "bilevel", algo: str = "ppo", fixed: dict | None = None,
               runs: str | Path = "runs/sweep") -> list[SweepJob]:
    """The Cartesian product problems x hyper-parameter grid x seeds, each job with its own run directory."""
    grid = dict(grid or {})
    keys = sorted(grid)
    jobs = []
    for problem in problems:
        for values in itertools.product(*(grid[k] for k in keys)):
            params = {**(fixed or {}), **dict(zip(keys, values))}
            for seed in seeds:
                job = SweepJob(problem, int(seed), params, agent, algo)
                safe = job.tag.replace("/", "_").replace(",", "_").replace("=", "").replace("[", "_").replace("]", "")
                job.run_dir = str(Path(runs) / problem.replace("/", "_") / safe / f"seed{seed}")
                jobs.append(job)
    return jobs


def run_job(job: SweepJob, minutes: float | None = None) -> dict:
    """Train one job and validate its best checkpoint; returns a results row."""
    from .train import configure_threads

    configure_threads(1)
    from .evaluate import evaluate
    from .registry import get_problem
    from .runner import load_agent, train_agent

    prob = get_problem(job.problem)
    overrides = dict(job.params)
    if minutes is not None:
        overrides["time_limit_s"] = 60.0 * minutes
    res = train_agent(prob, agent=job.agent, algo=job.algo, run_dir=job.run_dir, progress=False, verbose=False,
                      seed=job.seed, **overrides)
    ctrl, _ = load_agent(Path(job.run_dir) / "best.pt", name=job.tag)
    ev = evaluate(ctrl, prob.make_env, prob.val_seeds, make_lower=prob.make_lower)
    s = ev.summary()
    return {"scenario": job.problem, "controller": job.tag, "seed": job.seed, "params": job.params,
            "episodes": s["episodes"], "seeds": s["seeds"], "split": "validation",
            "reward_mean": round(s["reward_mean"], 2), "reward_std": round(s["reward_std"], 2),
            "train_wall_s": round(res.wall_s, 1), "train_episodes": res.episodes, "run_dir": job.run_dir,
            "host": os.uname().nodename}


def run_sweep(jobs: Sequence[SweepJob], *, minutes: float | None = None, use_ray: bool = True,
              ray_address: str | None = None, out: str | Path | None = None, command: str | None = None) -> dict:
    """Run every job (as Ray tasks, one CPU each, or one after the other here) and write the rows.

    Rows are in the results format of ``RESULTS.md`` (``scenario``, ``controller``, ``reward_mean`` ... on
    the problem's *validation* seeds: a sweep selects, it does not report test scores), in job order.
    """
    t0 = time.perf_counter()
    if use_ray:
        ray = require_ray()
        init_ray(ray_address)
        task = ray.remote(num_cpus=1)(run_job)
        rows = ray.get([task.remote(j, minutes) for j in jobs])
    else:
        rows = [run_job(j, minutes) for j in jobs]
    from .bench.common import write_results

    doc_extra = {"jobs": [asdict(j) for j in jobs], "backend": "ray" if use_ray else "local",
                 "wall_s": round(time.perf_counter() - t0, 1)}
    if out is None:
        return {"rows": rows, **doc_extra}
    return write_results(Path(out), "sweep", rows, {}, command=command, **doc_extra)


def parse_grid(items: Sequence[str] | None) -> dict[str, list]:
    """``key=v1,v2,...`` strings -> ``{key: [v1, v2, ...]}`` (values parsed as JSON when possible)."""
    grid: dict[str, list] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"expected key=v1,v2,... (got {item!r})")
        k, vs = item.split("=", 1)
        vals = []
        for v in vs.split(","):
            try:
                vals.append(json.loads(v))
            except json.JSONDecodeError:
                vals.append(v)
        grid[k.strip()] = vals
    return grid
