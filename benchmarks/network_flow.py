"""Network-flow benchmark (issue: dynamic network flow, scaling study, transfer, Ray scale-out).

    python benchmarks/network_flow.py                 # train (if needed) + evaluate -> results/network_flow.json
    python benchmarks/network_flow.py --quick         # smoke run with tiny budgets
    python benchmarks/network_flow.py --train-only --agents bilevel-ppo   # only train (e.g. one process per core)
    python benchmarks/network_flow.py --ray-only      # measure the Ray throughput again (on an idle machine)

Training runs go to runs/bench/network_flow/gabriel-mix/<agent>/ and are reused unless --retrain is given.
"""

from netctrl.bench.common import benchmark_parser, command_line
from netctrl.bench.network_flow import BUDGET_MIN, LABELS, run, update_ray

if __name__ == "__main__":
    p = benchmark_parser(__doc__, LABELS, episodes=10)
    p.add_argument("--minutes", type=float, default=None, help=f"training budget per agent (default {BUDGET_MIN})")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray throughput measurement")
    p.add_argument("--ray-only", action="store_true",
                   help="only measure the Ray throughput again, into the existing results file")
    a = p.parse_args()
    if a.ray_only:
        update_ray(out=a.out, command=command_line())
    else:
        run(out=a.out, runs=a.runs, minutes=a.minutes, seed=a.seed, episodes=a.episodes, retrain=a.retrain,
            quick=a.quick, train_only=a.train_only, labels=tuple(a.agents), ray=not a.no_ray,
            command=command_line())
