"""Mobility benchmark (issue: bi-level graph RL core + mobility-on-demand).

    python benchmarks/mobility.py                      # train (if needed) + evaluate + speed -> results/mobility.json
    python benchmarks/mobility.py --quick              # smoke run with tiny budgets (results/mobility-quick.json)
    python benchmarks/mobility.py --train-only --cities nyc_brooklyn   # only train (e.g. one city per core)

Training runs go to runs/bench/<city>/<agent>/ and are reused unless --retrain is given.
"""

from netctrl.bench.common import benchmark_parser, command_line, parse_minutes
from netctrl.bench.mobility import AGENTS, BUDGETS, CITIES, run

if __name__ == "__main__":
    p = benchmark_parser(__doc__, AGENTS, episodes=10)
    p.add_argument("--minutes", type=str, default=None,
                   help=f"training budget per agent in minutes, or JSON {{agent: minutes}} (default {BUDGETS})")
    p.add_argument("--cities", nargs="+", default=list(CITIES))
    a = p.parse_args()
    run(out=a.out, runs=a.runs, cities=a.cities, labels=tuple(a.agents), minutes=parse_minutes(a.minutes), seed=a.seed,
        episodes=a.episodes, retrain=a.retrain, quick=a.quick, train_only=a.train_only, command=command_line())
