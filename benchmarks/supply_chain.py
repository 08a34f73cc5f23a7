"""Supply-chain benchmark (issue: supply-chain inventory management).

    python benchmarks/supply_chain.py                  # train (if needed) + evaluate -> results/supply_chain.json
    python benchmarks/supply_chain.py --quick          # smoke run with tiny budgets
    python benchmarks/supply_chain.py --train-only --scenarios 1f2s 1f3s   # only train (e.g. one process per core)

Training runs go to runs/bench/supply_chain/<scenario>/<agent>/ and are reused unless --retrain is given.
"""

from netctrl.bench.common import benchmark_parser, command_line, parse_minutes
from netctrl.bench.supply_chain import BUDGETS, LABELS, SCENARIOS, run

if __name__ == "__main__":
    p = benchmark_parser(__doc__, LABELS, episodes=100)
    p.add_argument("--minutes", type=str, default=None,
                   help=f"training budget per agent in minutes, or JSON {{scenario: minutes}} (default {BUDGETS})")
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    a = p.parse_args()
    run(out=a.out, runs=a.runs, scenarios=a.scenarios, labels=tuple(a.agents), minutes=parse_minutes(a.minutes), seed=a.seed,
        episodes=a.episodes, retrain=a.retrain, quick=a.quick, train_only=a.train_only, command=command_line())
