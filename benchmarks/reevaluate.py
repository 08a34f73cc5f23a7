"""Re-evaluation of the committed supply-chain and network-flow figures once the lower levels became history-free
(issue 20): the controllers whose actions go through an LP, episode by episode on the committed test seeds, with
the code before (netctrl 0.2.0, commit df737bd) and after, side by side.

    git worktree add /tmp/netctrl-0.2 df737bd
    PYTHONPATH=/tmp/netctrl-0.2/src python benchmarks/reevaluate.py run --out runs/reeval/before.json
    python benchmarks/reevaluate.py run --out runs/reeval/after.json
    python benchmarks/reevaluate.py compare --before runs/reeval/before.json --after runs/reeval/after.json
                                                   # -> results/reevaluation.json

``run`` evaluates, with whichever netctrl is importable:

* supply chain (1F2S, 1F3S, 1F10S, 1F3W30S; test seeds 1000-1099): the bi-level and edge-level agents of
  ``runs/bench/supply_chain/<scenario>/<agent>/best.pt`` (``--supply-runs``) and the random baseline;
* network flow (every graph of ``benchmarks/network_flow.py``, its test seeds and episode counts): the random
  baseline and, with ``--network-agent RUN_DIR``, a bi-level agent;
* mobility (NYC Brooklyn, Shenzhen; 10 test seeds): the random baseline.

The oracle and forecast MPCs build a new model for every plan, and the heuristics (order-up-to, shortest path)
use no LP: their figures cannot move (checked: identical). ``compare`` writes, per row, the mean reward before
and after, the paired difference with its standard error, the largest per-episode change, and, where the row
is in the committed results file, the committed figure and the percentage of the oracle recomputed with the
committed oracle mean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SUPPLY = ("1f2s", "1f3s", "1f10s", "1f3w30s")
CITIES = ("nyc_brooklyn", "shenzhen_downtown_west")


def run(out: Path, supply_runs: Path, network_agent: Path | None, families: list[str]) -> None:
    from common import load_agent

    import netctrl
    from netctrl.evaluate import compare
    from netctrl.registry import get_problem
    from netctrl.train import configure_threads

    configure_threads(1)
    doc = {"netctrl": getattr(netctrl, "__version__", "?"), "path": netctrl.__file__, "rows": []}

    def add(family, scenario, rows):
        for r in rows:
            doc["rows"].append(
                {
                    "family": family,
                    "scenario": scenario,
                    "controller": r.controller,
                    "seeds": [int(e.seed) for e in r.result.episodes],
                    "rewards": [float(x) for x in r.result.rewards],
                }
            )
            print(family, scenario, r.controller, round(float(r.result.rewards.mean()), 2), flush=True)

    if "supply_chain" in families:
        for s in SUPPLY:
            prob = get_problem(f"supply_chain/{s}")
            ctrls = {
                lab: load_agent(supply_runs / s / lab, lab, prob)
                for lab in ("bilevel-ppo", "edge-ppo")
                if (supply_runs / s / lab / "best.pt").exists()
            }
            ctrls["random"] = prob.baselines(0)["random"]
            add("supply_chain", s, compare(prob, ctrls, list(prob.test_seeds)[:100], reference=None, progress=True))
    if "network_flow" in families:
        from network_flow import EPISODES, GRAPHS, graph_problem

        if network_agent is not None:
            network_agent = _readable(network_agent, out.parent / "agent-v2")

        for source, _split in GRAPHS:
            prob = graph_problem(source)
            ctrls = {"random": prob.baselines(0)["random"]}
            if network_agent is not None:
                ctrls["bilevel-ppo"] = load_agent(network_agent, "bilevel-ppo", prob)
            add(
                "network_flow",
                source,
                compare(prob, ctrls, list(prob.test_seeds)[: EPISODES.get(source, 10)], reference=None, progress=True),
            )
    if "mobility" in families:
        for c in CITIES:
            prob = get_problem(f"mobility/{c}")
            add(
                "mobility",
                c,
                compare(
                    prob,
                    {"random": prob.baselines(0)["random"]},
                    list(prob.test_seeds)[:10],
                    reference=None,
                    progress=True,
                ),
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))


def _readable(run_dir: Path, spare: Path) -> Path:
    """``run_dir``, or for a netctrl that reads checkpoints up to version 2 only, a copy of its ``best.pt`` as
    version 2 wrote it (without the checksum and graph entries of version 3)."""
    import torch

    from netctrl.train import CHECKPOINT_VERSION

    ck = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=True)
    if ck.get("version", 0) <= CHECKPOINT_VERSION:
        return run_dir
    spare.mkdir(parents=True, exist_ok=True)
    ck = {k: v for k, v in ck.items() if k not in ("checksum", "graph")}
    torch.save({**ck, "version": 2}, spare / "best.pt")
    return spare


def _committed(family: str) -> dict:
    path = Path(__file__).resolve().parent.parent / "results" / f"{family}.json"
    if not path.exists():
        return {}
    return {(r["scenario"], r["controller"]): r for r in json.loads(path.read_text())["rows"]}


def _read(paths: list[Path]) -> dict:
    docs = [json.loads(p.read_text()) for p in paths]
    return {"netctrl": docs[0]["netctrl"], "rows": [r for d in docs for r in d["rows"]]}


def compare_runs(before: list[Path], after: list[Path], out: Path, note: str = "") -> dict:
    from common import paired_difference

    from netctrl.results import command_line, write_results

    a, b = _read(before), _read(after)
    index = {(r["family"], r["scenario"], r["controller"]): r for r in a["rows"]}
    committed = {f: _committed(f) for f in ("supply_chain", "network_flow", "mobility")}
    rows = []
    for r in b["rows"]:
        key = (r["family"], r["scenario"], r["controller"])
        if key not in index:
            continue
        old, new = np.asarray(index[key]["rewards"]), np.asarray(r["rewards"])
        assert index[key]["seeds"] == r["seeds"], key
        d = new - old
        diff_mean, diff_se = paired_difference(new, old)
        row = {
            "family": r["family"],
            "scenario": r["scenario"],
            "controller": r["controller"],
            "episodes": len(d),
            "seeds": [r["seeds"][0], r["seeds"][-1]],
            "reward_mean_before": round(float(old.mean()), 4),
            "reward_mean_after": round(float(new.mean()), 4),
            "diff_mean": round(diff_mean, 4),
            "diff_se": None if diff_se is None else round(diff_se, 4),
            "max_abs_episode_diff": float(np.abs(d).max()),
            "identical": bool(np.array_equal(old, new)),
        }
        c = committed[r["family"]].get((r["scenario"], r["controller"]))
        o = committed[r["family"]].get((r["scenario"], "oracle"))
        if c is not None:
            row["committed_reward_mean"] = c.get("reward_mean")
            row["committed_pct_of_oracle"] = c.get("pct_of_oracle")
        if o is not None and o.get("reward_mean"):
            row["pct_of_oracle_before"] = round(100 * float(old.mean()) / o["reward_mean"], 2)
            row["pct_of_oracle_after"] = round(100 * float(new.mean()) / o["reward_mean"], 2)
        rows.append(row)
    speed = {"rows_identical": sum(r["identical"] for r in rows), "rows": len(rows)}
    doc = write_results(
        out,
        "reevaluation",
        rows,
        speed,
        command=command_line(),
        before=a["netctrl"],
        after=b["netctrl"],
        notes="paired per-episode rewards of the LP-using controllers, before (0.2.0) and after the "
        "history-free lower levels and per-episode seeded random baselines, same checkpoints "
        "and seeds; pct_of_oracle_* use the committed oracle mean of the row's scenario"
        + (f"; {note}" if note else ""),
    )
    for row in rows:
        print(
            f"{row['family']:13s} {row['scenario']:24s} {row['controller']:12s} {row['reward_mean_before']:14.2f} "
            f"-> {row['reward_mean_after']:14.2f}  diff {row['diff_mean']:+.3f} (se {row['diff_se']})"
        )
    return doc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--supply-runs", type=Path, default=Path("runs/bench/supply_chain"))
    r.add_argument("--network-agent", type=Path, default=None, help="run directory of a network_flow bilevel-ppo agent")
    r.add_argument("--families", nargs="+", default=["supply_chain", "network_flow", "mobility"])
    c = sub.add_parser("compare")
    c.add_argument("--before", type=Path, nargs="+", required=True, help="run files of the code before")
    c.add_argument("--after", type=Path, nargs="+", required=True, help="run files of the code after")
    c.add_argument("--out", type=Path, default=Path("results/reevaluation.json"))
    c.add_argument("--note", default="", help="what else the results file should say (e.g. how the agents were made)")
    a = p.parse_args()
    if a.cmd == "run":
        run(a.out, a.supply_runs, a.network_agent, a.families)
    else:
        compare_runs(a.before, a.after, a.out, a.note)
