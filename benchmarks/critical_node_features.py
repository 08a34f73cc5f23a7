"""Critical node: compare value-function checkpoints (e.g. feature sets) on development instances only.

    python benchmarks/critical_node_features.py \
        --checkpoint absolute=runs/bench/critical_node/multil-cur.pt \
        --checkpoint relative=runs/rel/critical_node/multil-cur.pt --dev 1000 --sizes 40 60 80 100 --per-triple 2

Each checkpoint is loaded with the game encoding (feature set) it was trained with and played greedily and
with the two-ply look-ahead (``<label>-la2``, width ``--lookahead-width``) on

* ``--dev`` small development instances (10-20 nodes, seed stream ``(DEV_SEED, 5)``, as
  ``benchmarks/critical_node.py --dev``): overall gap to the exact value;
* larger development graphs (``--sizes``, 5 % density, the public budget triples, ``--per-triple`` each, instance
  seeds ``DEV_SEED + 100 n + 10 k + j``, disjoint from the test instances' ``TEST_SEED + ...``): gap over the
  instances the exact solver finishes within ``--time-cap`` seconds, and every learned value; breakdowns: more
  than half of a graph of 60 or more nodes saved (solved or not; no solved optimum there exceeds 16).

``--checkpoint clipped=runs/bench/critical_node/multil-cur.pt@clipped`` plays an absolute checkpoint with the
``"clipped"`` feature set (the same network on graphs of up to 20 nodes, clipped counts and a capped sum read-out
beyond; see :mod:`netctrl.problems.critical_node.features`).

Writes ``<out>/critical_node_features_dev.json``. Never looks at the test instances.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from common import command_line, write_results
from critical_node import DEV_SEED, LOOKAHEAD_WIDTH, evaluate_dev, evaluate_large, load_learned

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        help="LABEL=PATH or LABEL=PATH@FEATURES (repeatable; @FEATURES: play the checkpoint with another "
        "feature set that computes the same on the training graphs, e.g. an absolute one @clipped)",
    )
    p.add_argument("--dev", type=int, default=1000, help="small development instances (0: none)")
    p.add_argument("--sizes", type=int, nargs="*", default=[40, 60, 80, 100])
    p.add_argument("--per-triple", type=int, default=2)
    p.add_argument("--time-cap", type=float, default=30.0)
    p.add_argument("--lookahead-width", type=int, default=LOOKAHEAD_WIDTH)
    p.add_argument("--out", type=Path, default=Path("results"))
    a = p.parse_args()
    BREAKDOWN_FROM = 60
    torch.set_num_threads(1)
    vfs, encodings = {}, {}
    for item in a.checkpoint:
        label, path = item.split("=", 1)
        path, _, features = path.partition("@")
        vfs[label], _ = load_learned(path, features or None)
        encodings[label] = dict(vfs[label].game.encoding)
    if a.lookahead_width:
        vfs.update({f"{label}-la2": vf.searching(2, a.lookahead_width) for label, vf in list(vfs.items())})
    rows, large_recs = [], []
    if a.dev:
        rows += evaluate_dev(vfs, a.dev)
    if a.sizes:
        large_rows, large_recs = evaluate_large(vfs, a.sizes, a.per_triple, a.time_cap, seed_base=DEV_SEED)
        rows += [{**r, "size": f"dev-{r['size']}"} for r in large_rows]
    # breakdowns: more than half of a graph of BREAKDOWN_FROM or more nodes saved, solved by the exact solver or not
    breakdowns = {
        label: {
            f"n{n}": sum(r[label]["value"] > n / 2 for r in large_recs if r["n"] == n)
            for n in a.sizes
            if n >= BREAKDOWN_FROM
        }
        for label in vfs
    }
    a.out.mkdir(parents=True, exist_ok=True)
    write_results(
        a.out / "critical_node_features_dev.json",
        "critical_node_features_dev",
        rows,
        {},
        command=command_line(),
        checkpoints=dict(item.split("=", 1) for item in a.checkpoint),
        encodings=encodings,
        seeds={"dev": [DEV_SEED, 5], "large_dev_base": DEV_SEED},
        lookahead={"depth": 2, "width": a.lookahead_width},
        large=large_recs,
        breakdowns={"rule": f"more than n/2 of an n-node graph saved, n >= {BREAKDOWN_FROM}", "count": breakdowns},
    )
    for r in rows:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    for label, counts in breakdowns.items():
        print(f"breakdowns {label}: {counts} (total {sum(counts.values())})")
