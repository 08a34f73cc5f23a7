"""WAN packet-routing benchmark (issue 5): delivery time vs load and adaptation after link failures for
shortest path, Q-routing, per-router policy gradient and MAMRL on B4, GEANT and AT&T.

    python benchmarks/routing.py                          # all topologies -> results/routing.json, results/routing.png
    python benchmarks/routing.py --topologies att --train-only   # one topology's record (e.g. one process per core)
    python benchmarks/routing.py --quick                  # smoke run with tiny budgets (not a result)

See netctrl/bench/routing.py for what is measured and the definition of "adapted".
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from netctrl.bench.common import command_line  # noqa: E402
from netctrl.bench.routing import TOPOLOGIES, run  # noqa: E402

if __name__ == "__main__":
    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--runs", type=Path, default=Path("runs/bench"), help="per-topology records (reused if present)")
    p.add_argument("--topologies", nargs="+", default=list(TOPOLOGIES))
    p.add_argument("--minutes", type=float, default=None, help="meta-training time cap per topology is 0.4 x this")
    p.add_argument("--retrain", action="store_true", help="recompute records even if present")
    p.add_argument("--train-only", action="store_true", help="write the topologies' records, not the results")
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, not a result")
    a = p.parse_args()
    run(out=a.out, runs=a.runs, minutes=a.minutes, quick=a.quick, retrain=a.retrain, command=command_line(),
        topologies=tuple(a.topologies), train_only=a.train_only)
