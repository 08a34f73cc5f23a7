"""The one helper module of the benchmark scripts: training (or reusing) agents through the recipes, the options
every script shares, learning-curve plots, and results files in the ``RESULTS.md`` format.

The scripts run from a checkout (``python benchmarks/<name>.py``); this directory is not part of the installed
package, and nothing in the package imports it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from netctrl.config import Experiment
from netctrl.registry import get_problem, get_recipe
from netctrl.results import command_line, machine, write_results  # noqa: F401  (the scripts' results helpers)
from netctrl.train import atomic_write_text


def _nest(path: str, value) -> dict:
    head, _, rest = path.partition(".")
    return {head: _nest(rest, value) if rest else value}


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def train_or_load(
    problem,
    label: str,
    run_dir: Path,
    minutes: float,
    seed: int,
    retrain: bool,
    quick: bool,
    overrides: dict | None = None,
) -> dict:
    """Train recipe ``label`` on ``problem`` (a name or a problem spec) unless ``run_dir/best.pt`` exists; return
    its training record.

    PPO runs use the problem's default number of iterations with ``minutes`` as a cap; A2C runs (one episode
    per update) run for ``minutes``. ``overrides``: recipe settings (a nested dict) over the problem's. ``quick``
    trains a few iterations only (a smoke run, not a result).
    """
    recipe = get_recipe(label)
    spec = get_problem(problem)
    run_dir = Path(run_dir)
    record_path = run_dir / "train_record.json"
    if record_path.exists() and (run_dir / "best.pt").exists() and not retrain:
        return json.loads(record_path.read_text())
    tree = _merge(overrides or {}, _nest(recipe.time_limit, 60.0 * minutes))
    if label.endswith("-ppo"):
        if quick:
            tree = _merge(tree, {"ppo": {"iterations": 6, "eval_every": 3}})
    else:
        tree = _merge(
            tree,
            {
                "a2c": {
                    "episodes": 8 if quick else 1_000_000,
                    "eval_every": 4 if quick else 400,
                    "checkpoint_every": 4 if quick else 400,
                }
            },
        )
    if quick and label == "bilevel-ppo" and (spec.recipes[label].get("imitation") or tree.get("imitation")):
        tree = _merge(tree, {"pretrain": {"episodes": 1, "rounds": 0, "epochs": 1}})  # imitation: a smoke run too
    cfg = recipe.make_config(spec, tree, seed=seed)
    Experiment(
        problem=spec.family if spec.source else spec.name,
        algo=label,
        seed=seed,
        settings=spec.settings,
        config=cfg,
        scenario=spec.source,
        run_dir=str(run_dir),
    ).write(run_dir / "config.toml")
    print(f"[{spec.name}] training {label} for up to {minutes:g} min")
    res = recipe.train(spec, cfg, run_dir, resume=False, progress=False, verbose=False)
    rec = {
        "label": label,
        "episodes": res.episodes,
        "iterations": res.iterations,
        "train_wall_s": round(res.wall_s, 1),
        "best_val_reward": res.best_eval,
        "seed": seed,
        "budget_min": minutes,
    }
    atomic_write_text(record_path, json.dumps(rec, indent=2))
    return rec


def paired_difference(a, b) -> tuple[float, float | None]:
    """Episode by episode ``a - b`` (the same seeds, in order): its mean and standard error (``None`` for one
    episode)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else None


def paired(compared, name: str, reference: str) -> dict:
    """Episode-by-episode reward of ``name`` minus ``reference`` on the same seeds: mean, its standard error,
    and the number of episodes ``name`` wins."""
    by = {r.controller: np.asarray(r.result.rewards, dtype=np.float64) for r in compared}
    mean, se = paired_difference(by[name], by[reference])
    key = "vs_" + reference.replace("-", "_")
    return {
        f"{key}_diff_mean": round(mean, 2),
        f"{key}_diff_se": round(float("nan") if se is None else se, 2),
        f"{key}_wins": int((by[name] > by[reference]).sum()),
    }


def proc_status_mb(field: str) -> float | None:
    """A memory line of ``/proc/self/status`` in MB (``VmRSS``: resident now, ``VmHWM``: the peak since this
    process started, not counting a parent's before ``exec``, unlike ``ru_maxrss``); ``None`` without /proc."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _peak_rss_mb() -> float:
    import resource

    peak = proc_status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(queue, fn, args):
    from netctrl.train import configure_threads

    configure_threads(1)
    try:
        out = fn(*args)
        queue.put(("ok", out, _peak_rss_mb()))
    except Exception as exc:  # reported to the parent, which raises it
        queue.put(("error", repr(exc), _peak_rss_mb()))


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a fresh (spawned) process on one thread: its result and the process's peak resident memory
    in MB."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    status, out, rss = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__name__}{args}: {out}")
    return out, rss


def rollout_throughput(problem, workers: int, iterations: int = 5, seed: int = 0, num_envs: int | None = None) -> dict:
    """Environment steps per second of the bi-level agent's PPO rollout collection (policy forward + lower level +
    simulator), in this process (``workers=0``) or on ``workers`` Ray actors; the first iteration (start-up) is
    not timed. ``problem``: a name or a problem spec."""
    import time

    from netctrl.algos.ppo import LocalCollector
    from netctrl.recipes.bilevel import init_policy, make_training_env
    from netctrl.scale import RayCollector

    prob = get_problem(problem)
    rcfg = get_recipe("bilevel-ppo").make_config(prob, {"ppo": {"num_envs": num_envs}} if num_envs else {}, seed=seed)
    cfg = rcfg.ppo
    make_env = make_training_env(prob, "lp")
    model = init_policy(make_env, rcfg.policy, seed)
    collector = (
        RayCollector(make_env, model, cfg.num_envs, cfg.rollout_steps, workers, seed)
        if workers
        else LocalCollector(make_env, cfg.num_envs, cfg.rollout_steps)
    )
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


def ray_throughput(problem, iterations: int = 4) -> dict:
    """Rollout steps/s in this process and on 1 and 2 Ray actors (``{}`` without the ``ray`` extra)."""
    try:
        from netctrl.scale import init_ray, require_ray

        require_ray()
    except ImportError:
        return {}
    init_ray()
    local = rollout_throughput(problem, 0, iterations)
    one = rollout_throughput(problem, 1, iterations)
    two = rollout_throughput(problem, 2, iterations)
    return {
        "rollout_steps_per_s_local": round(local["steps_per_s"], 1),
        "rollout_steps_per_s_1_worker": round(one["steps_per_s"], 1),
        "rollout_steps_per_s_2_workers": round(two["steps_per_s"], 1),
        "ray_rollout_speedup_2_workers": round(two["steps_per_s"] / one["steps_per_s"], 2),
        "ray_rollout_speedup_vs_local": round(two["steps_per_s"] / local["steps_per_s"], 2),
    }


def load_agent(run_dir: Path, label: str, spec=None, name: str | None = None):
    """The trained controller of recipe ``label`` in a run directory (its ``best.pt``), named ``name`` (default
    ``label``)."""
    return get_recipe(label).load(Path(run_dir) / "best.pt", spec, name=name or label)


def benchmark_parser(doc: str | None, agents, episodes: int):
    """The options every benchmark script shares (its own ones are added by the script)."""
    import argparse

    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", nargs="+", default=list(agents))
    p.add_argument("--episodes", type=int, default=episodes, help="test episodes per instance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=Path("runs/bench"), help="training runs (reused if present)")
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--retrain", action="store_true", help="train again even if runs exist")
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, not a result")
    p.add_argument("--train-only", action="store_true", help="train (e.g. one process per core), do not evaluate")
    return p


def benchmark_options(a) -> dict:
    """The keyword arguments of a benchmark's ``run`` from the shared options of :func:`benchmark_parser` (and
    the command line that produced them)."""
    return dict(
        out=a.out,
        runs=a.runs,
        labels=tuple(a.agents),
        seed=a.seed,
        episodes=a.episodes,
        retrain=a.retrain,
        quick=a.quick,
        train_only=a.train_only,
        command=command_line(),
    )


def parse_minutes(text: str | None):
    """``--minutes``: a number, or JSON ``{key: minutes}``."""
    if text is None:
        return None
    return json.loads(text) if text.strip().startswith("{") else float(text)


def plot_curves(curves: dict[str, dict[str, Path]], reference: dict[str, float], out: Path, ylabel: str) -> None:
    """One panel per problem: validation reward of each run (``metrics.jsonl``) as % of ``reference[problem]``
    against training wall time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4))
    axes = np.atleast_1d(axes)
    for ax, (problem, runs) in zip(axes, curves.items()):
        for k, (label, run_dir) in enumerate(runs.items()):
            path = Path(run_dir) / "metrics.jsonl"
            if not path.exists():
                continue
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            pts = [
                (r["wall_s"] / 60.0, 100.0 * r["eval_reward"] / reference[problem]) for r in rows if "eval_reward" in r
            ]
            if pts:
                ax.plot(*zip(*pts), label=label, color=f"C{k}")
        ax.axhline(100.0, color="k", ls="--", lw=1, label="oracle MPC")
        ax.set_title(problem)
        ax.set_xlabel("training wall time (min, 1 core)")
        ax.set_ylabel(ylabel)
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, -50.0), max(hi, 105.0))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


#: the name of the bi-level agent retrained on a changed network in the deployment experiments (issue 24)
RETRAINED = "bilevel-ppo-retrained"


def deployment_runs(
    problem, name: str, changes: dict, runs: Path, iterations: int, seed: int, retrain, quick, cap_minutes: float
) -> dict:
    """Train (or reuse) the bi-level agent on each changed network of ``changes`` (``{change: settings}``) with the
    nominal agent's recipe, seed and number of PPO ``iterations`` (``cap_minutes``: a wall-time cap that is not
    meant to bind): ``runs/<name>@<change>/bilevel-ppo``; their records."""
    prob = get_problem(problem)
    return {
        change: train_or_load(
            prob.with_settings(**settings),
            "bilevel-ppo",
            deployment_dir(runs, name, change),
            cap_minutes,
            seed,
            retrain,
            quick,
            overrides={"ppo": {"iterations": int(iterations)}},
        )
        for change, settings in changes.items()
    }


def deployment_dir(runs: Path, name: str, change: str) -> Path:
    """Run directory of the bi-level agent retrained on ``change`` of network ``name``."""
    return Path(runs) / f"{name}@{change.replace(' ', '-').replace('%', 'pct')}" / "bilevel-ppo"


def deployment_rows(p, change: str, settings: dict, controllers: dict, seeds, labels, record: dict) -> list[dict]:
    """One change at deployment: ``controllers`` (the unretrained agents ``labels``, :data:`RETRAINED`, the
    baselines) evaluated on the changed problem ``p``; rows with ``change`` and the paired differences to the
    retrained agent and the forecast MPC."""
    from netctrl.evaluate import compare, print_table, rows_to_records

    compared = compare(p, controllers, seeds, progress=True)
    extra = {l: {**paired(compared, l, RETRAINED), **paired(compared, l, "forecast-mpc")} for l in labels}
    extra[RETRAINED] = {
        "train_wall_s": record["train_wall_s"],
        "train_episodes": record["episodes"],
        **paired(compared, RETRAINED, "forecast-mpc"),
    }
    recs = [
        r | {"experiment": f"deployment: {change}", "change": change, "settings": settings}
        for r in rows_to_records(p, compared, extra=extra)
    ]
    print_table(
        f"{p.name}, {change} ({len(seeds)} test episodes)",
        recs,
        ["controller", "reward_mean", "pct_of_oracle", "violations_mean", "vs_bilevel_ppo_retrained_diff_mean"],
    )
    return recs


def deployment_bar(rows: list[dict], label: str = "bilevel-ppo") -> dict:
    """Issue 24's deployment bar per network and change: the unretrained agent keeps >= 95 % of the retrained
    agent's reward (``ratio``; read as ``agent >= retrained - 0.05 |retrained|``) with 0 constraint violations."""
    out: dict = {}
    for r in rows:
        if "change" in r and r["controller"] == label:
            ref = next(
                x
                for x in rows
                if x.get("change") == r["change"] and x["scenario"] == r["scenario"] and x["controller"] == RETRAINED
            )
            ratio = r["reward_mean"] / ref["reward_mean"] if ref["reward_mean"] > 0 else None
            out.setdefault(r["scenario"], {})[r["change"]] = {
                "ratio": None if ratio is None else round(ratio, 4),
                "violations": r["violations_mean"],
                "met": r["reward_mean"] >= ref["reward_mean"] - 0.05 * abs(ref["reward_mean"])
                and r["violations_mean"] == 0,
            }
    return out


def robustness(rows: list[dict], label: str = "bilevel-ppo") -> dict:
    """Issue 24's shifted-demand bar per instance and shift (rows with ``shift``): the agent ``label`` keeps >= 95 %
    of the forecast MPC's reward, read as ``agent >= mpc - 0.05 |mpc|`` (a ratio means nothing once a shift makes
    rewards negative); ``<shift>``: the agent's mean reward minus the forecast MPC's, in units of ``|mpc|``."""
    out: dict = {}
    for r in rows:
        if "shift" in r and r["controller"] == label:
            mpc = next(
                x["reward_mean"]
                for x in rows
                if x.get("shift") == r["shift"] and x["scenario"] == r["scenario"] and x["controller"] == "forecast-mpc"
            )
            out.setdefault(r["scenario"], {})[r["shift"]] = round((r["reward_mean"] - mpc) / abs(mpc), 4)
    return {s: v | {"met": all(x >= -0.05 for x in v.values())} for s, v in out.items()}


def shifted_rows(p, title: str, shift: str, change: dict, controllers: dict, seeds, extra) -> list[dict]:
    """One shifted demand (issue 24): ``controllers`` evaluated on the shifted problem ``p``; rows with
    ``experiment``, ``shift`` and the settings of ``change``, and ``extra(compared)``'s columns (per controller:
    paired differences); their table printed under ``title``."""
    from netctrl.evaluate import compare, print_table, rows_to_records

    compared = compare(p, controllers, seeds, progress=True)
    recs = [
        r | {"experiment": f"shifted demand: {shift}", "shift": shift, **change}
        for r in rows_to_records(p, compared, extra=extra(compared))
    ]
    print_table(
        f"{title}, {shift} ({len(seeds)} test episodes)",
        recs,
        ["controller", "reward_mean", "pct_of_oracle", "vs_forecast_mpc_diff_mean", "vs_forecast_mpc_diff_se"],
    )
    return recs
