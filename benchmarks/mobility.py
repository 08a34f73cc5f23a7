"""Mobility benchmark (issue: bi-level graph RL core + mobility-on-demand).

    python benchmarks/mobility.py                      # train (if needed) + evaluate + speed -> results/mobility.json
    python benchmarks/mobility.py --quick              # smoke run with tiny budgets (results/mobility-quick.json)
    python benchmarks/mobility.py --train-only --cities nyc_brooklyn   # only train (e.g. one city per core)

Training runs go to runs/bench/<city>/<agent>/ and are reused unless --retrain is given.
"""

import argparse
import json
from pathlib import Path

from netctrl.bench.common import command_line
from netctrl.bench.mobility import AGENTS, BUDGETS, CITIES, run

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=str, default=None,
                   help=f"training budget per agent in minutes, or JSON {{agent: minutes}} (default {BUDGETS})")
    p.add_argument("--cities", nargs="+", default=list(CITIES))
    p.add_argument("--agents", nargs="+", default=list(AGENTS))
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=Path("runs/bench"))
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--train-only", action="store_true")
    a = p.parse_args()
    minutes = None if a.minutes is None else json.loads(a.minutes) if a.minutes.strip().startswith("{") else float(a.minutes)
    run(out=a.out, runs=a.runs, cities=a.cities, labels=tuple(a.agents), minutes=minutes, seed=a.seed,
        episodes=a.episodes, retrain=a.retrain, quick=a.quick, train_only=a.train_only, command=command_line())
