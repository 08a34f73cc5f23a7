"""Helpers shared by benchmarks: machine description, results files in the ``RESULTS.md`` format."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from ..registry import get_problem
from ..runner import train_agent
from ..train import atomic_write_text

#: agent label -> (agent, algorithm)
AGENTS = {
    "bilevel-ppo": ("bilevel", "ppo"),
    "bilevel-a2c": ("bilevel", "a2c"),
    "edge-ppo": ("edge", "ppo"),
}


def train_or_load(problem: str, label: str, run_dir: Path, minutes: float, seed: int, retrain: bool, quick: bool) -> dict:
    """Train agent ``label`` on ``problem`` unless ``run_dir/best.pt`` exists; return its training record.

    PPO runs use the problem's default number of iterations with ``minutes`` as a cap; A2C runs (one episode
    per update) run for ``minutes``. ``quick`` trains a few iterations only (a smoke run, not a result).
    """
    agent, algo = AGENTS[label]
    run_dir = Path(run_dir)
    record_path = run_dir / "train_record.json"
    if record_path.exists() and (run_dir / "best.pt").exists() and not retrain:
        return json.loads(record_path.read_text())
    overrides: dict = {"seed": seed, "time_limit_s": 60.0 * minutes}
    if algo == "ppo":
        if quick:
            overrides.update(iterations=6, eval_every=3)
    else:
        overrides["episodes"] = 8 if quick else 1_000_000
        overrides["eval_every"] = 4 if quick else 400
        overrides["checkpoint_every"] = 4 if quick else 400
    if quick and agent == "bilevel" and algo == "ppo" and get_problem(problem).expert is not None:
        overrides["pretrain"] = {"episodes": 1, "rounds": 0, "epochs": 1}       # imitation stage: a smoke run too
    print(f"[{problem}] training {label} for up to {minutes:g} min")
    res = train_agent(problem, agent=agent, algo=algo, run_dir=run_dir, progress=False, verbose=False, **overrides)
    rec = {"label": label, "episodes": res.episodes, "iterations": res.iterations, "train_wall_s": round(res.wall_s, 1),
           "best_val_reward": res.best_eval, "seed": seed, "budget_min": minutes}
    atomic_write_text(record_path, json.dumps(rec, indent=2))
    return rec


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
            pts = [(r["wall_s"] / 60.0, 100.0 * r["eval_reward"] / reference[problem]) for r in rows if "eval_reward" in r]
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


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}, Python {platform.python_version()}, torch {torch.__version__}"


def command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(".py"):
        argv = ["python", argv[0]] + argv[1:]
    elif argv:
        argv[0] = Path(argv[0]).name  # e.g. the `netctrl` entry point
    return " ".join(shlex.quote(a) for a in argv)


def write_results(path: Path, benchmark: str, rows: list[dict], speed: dict, command: str | None = None, **extra) -> dict:
    doc = {
        "benchmark": benchmark,
        "command": command or command_line(),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
        "speed": speed,
        **extra,
    }
    atomic_write_text(Path(path), json.dumps(doc, indent=2) + "\n")
    return doc
