"""Sweeps: train seeds x problems x hyper-parameters with any recipe, as Ray tasks or one after the other here.

``netctrl sweep`` builds the jobs (:func:`sweep_jobs`), runs them (:func:`run_sweep`: one Ray task per job,
one CPU each, on a local Ray instance or a cluster; or in this process) and writes one row per job in the
results format of ``RESULTS.md``, scored on the problem's *validation* seeds (a sweep selects; it does not
report test scores). On a cluster give ``runs`` a path every node shares: the workers write the run
directories.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import experiment, parse_value
from .errors import ConfigError


@dataclass
class SweepJob:
    """One training run of a sweep."""

    problem: str
    seed: int
    params: dict = field(default_factory=dict)
    """``--set`` options of this job (recipe config fields, bare or qualified)."""
    algo: str = "bilevel-ppo"
    run_dir: str = ""

    @property
    def tag(self) -> str:
        p = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return self.algo + (f"[{p}]" if p else "")


def sweep_jobs(
    problems: Sequence[str],
    seeds: Sequence[int],
    grid: dict[str, Sequence] | None = None,
    *,
    algo: str = "bilevel-ppo",
    fixed: dict | None = None,
    runs: str | Path = "runs/sweep",
) -> list[SweepJob]:
    """The Cartesian product problems x hyper-parameter grid x seeds, each job with its own run directory
    (every job's options are checked here, before anything runs)."""
    grid = dict(grid or {})
    keys = sorted(grid)
    jobs = []
    for problem in problems:
        for values in itertools.product(*(grid[k] for k in keys)):
            params = {**(fixed or {}), **dict(zip(keys, values))}
            for seed in seeds:
                job = SweepJob(problem, int(seed), params, algo)
                experiment(problem=problem, algo=algo, seed=int(seed), sets=params)  # validate
                safe = job.tag.replace("/", "_").replace(",", "_").replace("=", "").replace("[", "_").replace("]", "")
                job.run_dir = str(Path(runs) / problem.replace("/", "_") / safe / f"seed{seed}")
                jobs.append(job)
    return jobs


def run_job(job: SweepJob, minutes: float | None = None) -> dict:
    """Train one job and validate its best checkpoint; returns a results row."""
    from .evaluate import evaluate
    from .train import configure_threads

    configure_threads(1)
    exp = experiment(
        problem=job.problem,
        algo=job.algo,
        seed=job.seed,
        sets=job.params,
        time_limit=None if minutes is None else 60.0 * minutes,
    )
    spec, recipe = exp.spec, exp.recipe
    res = recipe.train(spec, exp.config, job.run_dir, progress=False, verbose=False)
    ctrl = recipe.load(Path(job.run_dir) / "best.pt", spec, name=job.tag)
    ev = evaluate(ctrl, spec.make_env, spec.val_seeds, make_lower=spec.make_lower)
    s = ev.summary()
    return {
        "scenario": job.problem,
        "controller": job.tag,
        "seed": job.seed,
        "params": job.params,
        "episodes": s["episodes"],
        "seeds": s["seeds"],
        "split": "validation",
        "reward_mean": round(s["reward_mean"], 2),
        "reward_std": round(s["reward_std"], 2),
        "train_wall_s": round(res.wall_s, 1),
        "train_episodes": res.episodes,
        "run_dir": job.run_dir,
        "host": os.uname().nodename,
    }


def run_sweep(
    jobs: Sequence[SweepJob],
    *,
    minutes: float | None = None,
    use_ray: bool = True,
    ray_address: str | None = None,
    out: str | Path | None = None,
    command: str | None = None,
    progress: bool = False,
) -> dict:
    """Run every job (as Ray tasks, one CPU each, or one after the other here) and write the rows in job order
    (``progress``: a bar on stderr over the finished jobs)."""
    from .progress import Progress

    t0 = time.perf_counter()
    with Progress(len(jobs), "sweep jobs", enabled=progress) as bar:
        if use_ray:
            from .scale import init_ray, require_ray

            ray = require_ray()
            init_ray(ray_address)
            task = ray.remote(num_cpus=1)(run_job)
            refs = [task.remote(j, minutes) for j in jobs]
            pending = list(refs)
            while pending:  # the bar advances as jobs finish, in any order; the rows keep the jobs' order
                ready, pending = ray.wait(pending, num_returns=1)
                bar.update(len(ready), f"{len(jobs) - len(pending)} finished")
            rows = ray.get(refs)
        else:
            rows = []
            for j in jobs:
                bar.update(0, f"{j.problem} {j.tag} seed {j.seed}")
                rows.append(run_job(j, minutes))
                bar.update(1)
    doc_extra = {
        "jobs": [asdict(j) for j in jobs],
        "backend": "ray" if use_ray else "local",
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    if out is None:
        return {"rows": rows, **doc_extra}
    from .results import write_results

    return write_results(Path(out), "sweep", rows, {}, command=command, **doc_extra)


def parse_grid(items: Sequence[str] | None) -> dict[str, list]:
    """``key=v1,v2,...`` strings -> ``{key: [v1, v2, ...]}`` (values parsed as JSON when possible)."""
    grid: dict[str, list] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--grid expects key=v1,v2,... (got {item!r})")
        k, vs = item.split("=", 1)
        grid[k.strip()] = [parse_value(v) for v in vs.split(",")]
    return grid
