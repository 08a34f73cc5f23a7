"""Supply-chain benchmark (issue: supply-chain inventory management).

    python benchmarks/supply_chain.py                  # train (if needed) + evaluate -> results/supply_chain.json
    python benchmarks/supply_chain.py --quick          # smoke run with tiny budgets
    python benchmarks/supply_chain.py --train-only --scenarios 1f2s 1f3s   # only train (e.g. one process per core)

Training runs go to runs/bench/supply_chain/<scenario>/<agent>/ and are reused unless --retrain is given.
"""

import argparse
import json
from pathlib import Path

from netctrl.bench.common import command_line
from netctrl.bench.supply_chain import BUDGETS, LABELS, SCENARIOS, run

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=str, default=None,
                   help=f"training budget per agent in minutes, or JSON {{scenario: minutes}} (default {BUDGETS})")
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    p.add_argument("--agents", nargs="+", default=list(LABELS))
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=Path("runs/bench"))
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--train-only", action="store_true")
    a = p.parse_args()
    minutes = None if a.minutes is None else json.loads(a.minutes) if a.minutes.strip().startswith("{") else float(a.minutes)
    run(out=a.out, runs=a.runs, scenarios=a.scenarios, labels=tuple(a.agents), minutes=minutes, seed=a.seed,
        episodes=a.episodes, retrain=a.retrain, quick=a.quick, train_only=a.train_only, command=command_line())
