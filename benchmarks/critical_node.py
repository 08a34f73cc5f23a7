"""Multilevel Critical Node benchmark (issue 6): MultiL-Cur and MultiL-DQN against the exact solver.

    python benchmarks/critical_node.py                # train (or reuse runs/bench/critical_node) and evaluate
    python benchmarks/critical_node.py --train-only   # train only
    python benchmarks/critical_node.py --quick        # smoke run with tiny budgets (not a result)
    python benchmarks/critical_node.py --dev 1000 --lookahead-width 2 3 5 99   # development instances only

See netctrl/bench/critical_node.py for what is measured.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from netctrl.bench.common import command_line  # noqa: E402
from netctrl.bench.critical_node import run  # noqa: E402
from netctrl.problems.critical_node.features import DEFAULT_FEATURES, FEATURE_SETS  # noqa: E402

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--runs", type=Path, default=Path("runs/bench"), help="training runs (reused if present)")
    p.add_argument("--retrain", action="store_true", help="train again even if runs exist")
    p.add_argument("--minutes", type=float, default=None, help="cap on the curriculum's training time")
    p.add_argument("--small", type=int, default=300, help="test instances of 10-20 nodes")
    p.add_argument("--sizes", type=int, nargs="+", default=[40, 60, 80, 100], help="larger graph sizes")
    p.add_argument("--per-triple", type=int, default=1, help="instances per budget triple and larger size")
    p.add_argument("--time-cap", type=float, default=60.0, help="exact solver time cap per larger instance (s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ensemble-seeds", type=int, nargs="*", default=[],
                   help="more curriculum seeds averaged with --seed into multil-cur-ens<m>")
    p.add_argument("--lookahead-width", type=int, nargs="+", default=[5],
                   help="also play each controller with a two-ply look-ahead of this width (<label>-la2; 0: not); "
                        "with --dev, several widths may be compared")
    p.add_argument("--dev", type=int, default=0,
                   help="evaluate on this many development instances instead (results/critical_node_dev.json)")
    p.add_argument("--features", choices=sorted(FEATURE_SETS), default=DEFAULT_FEATURES,
                   help="feature set of the value networks (relative: size-invariant; hybrid: relative features, "
                        "sum read-out capped at 20 nodes; clipped: hybrid without the fractions; needs --runs "
                        "trained with it)")
    p.add_argument("--train-only", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, not a result")
    a = p.parse_args()
    torch.set_num_threads(1)
    run(out=a.out, runs=a.runs, minutes=a.minutes, quick=a.quick, retrain=a.retrain, command=command_line(),
        small_instances=a.small, large_sizes=tuple(a.sizes), per_triple=a.per_triple, time_cap=a.time_cap,
        seed=a.seed, train_only=a.train_only, ensemble_seeds=tuple(a.ensemble_seeds),
        lookahead_width=a.lookahead_width if a.dev else a.lookahead_width[0], dev=a.dev, features=a.features)
