"""Hyper-gradient benchmark (issue 7): bi-level toll design with entropy-regularized routing agents.

    python benchmarks/hypergrad.py                 # all parts -> results/hypergrad.json, results/hypergrad.png
    python benchmarks/hypergrad.py --quick         # smoke run with tiny budgets (not a result)

See netctrl/bench/hypergrad.py for what is measured.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from netctrl.bench.common import command_line  # noqa: E402
from netctrl.bench.hypergrad import run  # noqa: E402

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--instances", nargs="+", default=["att", "geant"],
                   help="topologies of the race (packaged names or topohub keys)")
    p.add_argument("--spsa-budget", type=int, default=4000, help="lower-level solves allowed to SPSA")
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, not a result")
    a = p.parse_args()
    run(out=a.out, instances=tuple(a.instances), quick=a.quick, spsa_budget=a.spsa_budget, command=command_line())
