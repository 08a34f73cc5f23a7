"""Pretrained controllers: export trained runs into the package, and evaluate what ships.

``export`` copies each source run's ``best.pt`` into ``src/netctrl/data/pretrained/`` without the optimiser and
random states (:func:`netctrl.pretrained.strip_checkpoint`) and writes ``manifest.json``: per controller the
command and config that trained it, the file's SHA-256 and the problems it is the default for.

``evaluate`` runs every shipped controller through :func:`netctrl.load_pretrained` on the test seeds of each
problem below (the same seeds and number of episodes as the family's own results file) and writes
``results/pretrained.json``: per row the per-episode rewards (what ``tests/test_pretrained.py`` compares a
short evaluation with), the mean, and beside it the family results file's row for the same controller and the
reference's mean on the same seeds (``pct_of_reference`` = 100 x mean / that reference mean). Routing rows also
run shortest-path routing (``spa``) on the same seeds in the same run; critical-node rows the exact solver.

Usage::

    python benchmarks/pretrained.py export      # after training the source runs (see SOURCES)
    python benchmarks/pretrained.py export --only network_flow/backbone-mix   # one entry; the others kept
    python benchmarks/pretrained.py evaluate    # -> results/pretrained.json (about 10 minutes on 2 cores)
    python benchmarks/pretrained.py evaluate --only routing/b4 --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import time
import tomllib
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from common import machine, write_results

from netctrl.evaluate import compare, rows_to_records
from netctrl.pretrained import (
    MANIFEST,
    PRETRAINED_DIR,
    list_pretrained,
    load_pretrained,
    strip_checkpoint,
    write_manifest,
)
from netctrl.registry import get_problem
from netctrl.train import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
RUNS = ROOT / "runs"
NETWORK_FLOW = [f"network_flow/gabriel-{n}" for n in (10, 20, 50, 100, 200, 500)] + [
    f"network_flow/{t}" for t in ("b4", "geant", "att")
]

# problem, recipe, source run (best.pt and its config.toml / train_record.json), command that trained it,
# problems it is the default for, notes.
SOURCES = [
    *(
        (
            f"mobility/{city}",
            "bilevel-ppo",
            RUNS / "bench" / city / "bilevel-ppo",
            "python benchmarks/mobility.py",
            None,
            "the checkpoint behind results/mobility.json (its bilevel-ppo rows)",
        )
        for city in ("nyc_brooklyn", "shenzhen_downtown_west")
    ),
    *(
        (
            f"supply_chain/{s}",
            "bilevel-ppo",
            RUNS / "bench" / "supply_chain" / s / "bilevel-ppo",
            "python benchmarks/supply_chain.py",
            None,
            "trained by the benchmark's command on 2026-12-06 (netctrl 0.2.0); the checkpoints behind "
            "results/supply_chain.json were not kept, so its bilevel-ppo rows differ (see results/pretrained.json)",
        )
        for s in ("1f2s", "1f3s", "1f10s", "1f3w30s")
    ),
    (
        "network_flow/gabriel-mix",
        "bilevel-ppo",
        RUNS / "reeval" / "nf_agent",
        "netctrl train network_flow/gabriel-mix --iterations 40 --run-dir runs/reeval/nf_agent",
        NETWORK_FLOW,
        "one graph policy for every network-flow instance (trained on Gabriel graphs of 10-50 nodes); 40 "
        "iterations, where results/network_flow.json's agent trained 228 (its checkpoint was not kept)",
    ),
    (
        "network_flow/backbone-mix",
        "bilevel-ppo",
        RUNS / "nf_backbone_mix" / "run",
        "netctrl train network_flow/backbone-mix --iterations 20 --run-dir runs/nf_backbone_mix/run",
        None,
        "the gabriel-mix policy fine-tuned on real backbones of 136-174 nodes (sources in-time): DAgger from "
        "the forecast MPC, then 20 PPO iterations that did not beat it on validation (best.pt is the DAgger "
        "result); the agent of results/network_flow_scale.json, chosen by the rule in docs/development-log.md",
    ),
    *(
        (
            f"routing/{t}",
            "mamrl",
            RUNS / "pretrained" / f"routing_{t}",
            f"netctrl train routing/{t} --algo mamrl --set episodes=100",
            None,
            "the MAMRL recipe (teacher imitation, 300 MAML iterations over link failures, 100 online episodes: "
            "the budgets of benchmarks/routing.py); frozen and sampling when evaluated",
        )
        for t in ("b4", "geant", "att")
    ),
    (
        "critical_node/d1",
        "multil-cur",
        RUNS / "bench" / "critical_node",
        "python benchmarks/critical_node.py --time-cap 30 --ensemble-seeds 1 2 3",
        [
            "critical_node/d1",
            "critical_node/rnd05-40",
            "critical_node/rnd05-60",
            "critical_node/rnd05-80",
            "critical_node/rnd05-100",
        ],
        "the curriculum value networks (budgets 1-9) of the benchmark's run of 2026-12-06; they transfer to the "
        "larger random graphs as in results/critical_node.json",
    ),
]

#: controllers that are their family's default for any problem without one of its own (a user's topology)
FAMILY_DEFAULTS = {"network_flow/gabriel-mix"}

# evaluation targets: problem -> (episodes, results file, how to find the family's rows, extra controllers)
EVAL = {
    "mobility/nyc_brooklyn": (10, "mobility", {"scenario": "nyc_brooklyn"}, ()),
    "mobility/shenzhen_downtown_west": (10, "mobility", {"scenario": "shenzhen_downtown_west"}, ()),
    **{f"supply_chain/{s}": (100, "supply_chain", {"scenario": s}, ()) for s in ("1f2s", "1f3s", "1f10s", "1f3w30s")},
    **{
        p: (
            {"gabriel-200": 5, "gabriel-500": 2}.get(p.split("/")[1], 10),
            "network_flow",
            {"scenario": p.split("/")[1].replace("gabriel-", "gabriel/") + "/0" if "gabriel" in p else p.split("/")[1]},
            (),
        )
        for p in NETWORK_FLOW
    },
    "network_flow/backbone-mix": (
        10,
        "network_flow",
        {"scenario": "backbone-mix"},
        ("oracle", "shortest-path-deadline"),
    ),
    **{
        f"routing/{t}": (10, "routing", {"topology": t, "experiment": "load", "load": 0.3}, ("spa",))
        for t in ("b4", "geant", "att")
    },
    "critical_node/d1": (100, "critical_node", {"size": "small"}, ("exact",)),
}


def _file_name(problem: str, recipe: str) -> str:
    return problem.replace("/", "__") + f"__{recipe}.pt"


def _source_checkpoint(run: Path, recipe: str) -> Path:
    return run / ("best.pt" if (run / "best.pt").exists() else f"{recipe}.pt")


def export(args) -> None:
    """Export every source run, or with ``--only`` those problems' runs, keeping the other manifest entries
    (and their files) as they are."""
    PRETRAINED_DIR.mkdir(parents=True, exist_ok=True)
    known = {p for p, *_ in SOURCES}
    unknown = set(args.only or ()) - known
    if unknown:
        raise SystemExit(f"no source run for {sorted(unknown)}; sources: {sorted(known)}")
    kept = {}
    if args.only and MANIFEST.exists():
        kept = {
            e["problem"]: e for e in json.loads(MANIFEST.read_text())["pretrained"] if e["problem"] not in args.only
        }
    entries = []
    for problem, recipe, run, command, applies, notes in SOURCES:
        if args.only and problem not in args.only:
            if problem in kept:
                entries.append(kept[problem])
            continue
        src = _source_checkpoint(run, recipe)
        ck = load_checkpoint(src, recipe=recipe)
        trained: dict = {"seed": None, "netctrl": ck.get("netctrl"), "machine": args.machine}
        if (run / "config.toml").exists():
            cfg = tomllib.loads((run / "config.toml").read_text())
            trained["seed"] = cfg.get("seed")
            trained["config"] = {k: v for k, v in cfg.items() if k not in ("run_dir", "netctrl_version")}
        else:
            trained["seed"] = (ck.get("config") or {}).get("seed")
            trained["config"] = ck.get("config")
        for name in ("train_record.json", "summary.json"):
            if (run / name).exists():
                trained["record"] = json.loads((run / name).read_text())
        if "wall_s" in ck:
            trained["wall_s"] = round(float(ck["wall_s"]), 1)
        trained["date"] = time.strftime("%Y-%m-%d", time.localtime(src.stat().st_mtime))
        meta = {"problem": problem, "command": command, "source": str(src.relative_to(ROOT))}
        dest = PRETRAINED_DIR / _file_name(problem, recipe)
        save_checkpoint(dest, strip_checkpoint(ck, meta))
        load_checkpoint(dest, recipe=recipe)  # the shipped file reads back with its checksum
        data = dest.read_bytes()
        entries.append(
            {
                "problem": problem,
                "recipe": recipe,
                "file": dest.name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "applies_to": applies or [problem],
                "command": command,
                "trained": trained,
                "notes": notes,
                "family_default": problem in FAMILY_DEFAULTS,
            }
        )
        print(
            f"{problem} {recipe}: {src} -> {dest.name} ({len(data) / 1e6:.2f} MB, was {src.stat().st_size / 1e6:.2f})"
        )
    write_manifest(entries)
    print(f"{len(entries)} controllers, {sum(e['bytes'] for e in entries) / 1e6:.2f} MB in all")


@functools.cache
def _results_rows(file: str) -> list[dict]:
    path = RESULTS / f"{file}.json"
    return json.loads(path.read_text())["rows"] if path.exists() else []


def _family_row(file: str, match: dict, controller: str) -> dict | None:
    for r in _results_rows(file):
        if r.get("controller") == controller and all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def evaluate_entry(entry, problem: str) -> list[dict]:
    episodes, file, match, extra = EVAL[problem]
    spec = get_problem(problem)
    seeds = (
        list(spec.test_seeds)[:1] if len(spec.test_seeds) == 1 else [spec.test_seeds[0] + k for k in range(episodes)]
    )
    controllers = {entry.label: load_pretrained(problem, entry.recipe)}
    baselines = spec.baselines(0)
    controllers.update({b: baselines[b] for b in extra})
    reference = spec.reference if spec.reference in controllers else None
    t0 = time.perf_counter()
    rows = compare(spec, controllers, seeds, reference=reference or "")
    wall = time.perf_counter() - t0
    records = rows_to_records(spec, rows)
    out = []
    family_row = _family_row(file, match, entry.recipe)
    ref_row = _family_row(file, match, spec.reference) if spec.reference else None
    for row, rec in zip(rows, records, strict=True):
        rec = {
            "problem": problem,
            "pretrained": entry.problem,
            "recipe": entry.recipe if row.controller == entry.label else None,
            **rec,
            "episode_rewards": [float(x) for x in row.result.rewards],
        }
        if row.controller == entry.label:
            if (
                ref_row is not None
                and reference is None
                and ref_row.get("seeds", [None])[0] == seeds[0]
                and (ref_row.get("episodes") == len(seeds))
            ):
                rec["reference_mean"] = ref_row["reward_mean"]
                rec[spec.pct_key] = round(100.0 * rec["reward_mean"] / ref_row["reward_mean"], 2)
            if family_row is not None:
                rec["family_results"] = {
                    "file": f"results/{file}.json",
                    **{
                        k: family_row.get(k)
                        for k in (
                            "episodes",
                            "reward_mean",
                            spec.pct_key,
                            "gap_pct",
                            "delivery_time",
                            "delivery_time_vs_spa",
                        )
                        if k in family_row
                    },
                }
            rec["eval_wall_s"] = round(wall, 1)
        out.append(rec)
    if problem.startswith("routing/"):
        spa = next(r for r in out if r["controller"] == "spa")
        for r in out:
            if r["controller"] != "spa" and r.get("delivery_time_mean") and spa.get("delivery_time_mean"):
                r["delivery_time_vs_spa"] = round(r["delivery_time_mean"] / spa["delivery_time_mean"], 4)
    return out


def evaluate(args) -> None:
    torch.set_num_threads(1)
    rows, t0 = [], time.perf_counter()
    for entry in list_pretrained():
        for problem in entry.applies_to:
            if problem not in EVAL or (args.only and problem not in args.only and entry.problem not in args.only):
                continue
            part = evaluate_entry(entry, problem)
            rows += part
            mine = part[0]
            print(
                f"{problem} ({entry.label}): reward {mine['reward_mean']:.2f} over {mine['episodes']} episodes"
                + (
                    f", {mine.get('pct_of_oracle') or mine.get('pct_of_exact')} % of the reference"
                    if mine.get("pct_of_oracle") or mine.get("pct_of_exact")
                    else ""
                )
                + f" ({mine['eval_wall_s']} s)",
                flush=True,
            )
    if args.only and Path(args.out).exists():  # replace the rows of the problems evaluated, keep the others
        done = {r["problem"] for r in rows}
        rows = [r for r in json.loads(Path(args.out).read_text())["rows"] if r["problem"] not in done] + rows
    write_results(
        Path(args.out),
        "pretrained",
        rows,
        {"eval_wall_s": round(time.perf_counter() - t0, 1)},
        notes=(
            "every shipped controller (src/netctrl/data/pretrained/manifest.json) loaded with "
            "netctrl.load_pretrained and evaluated on the test seeds (1000.., as many episodes as the "
            "family's results file); episode_rewards: per seed, in order; family_results: that file's row "
            "for the same recipe (another training run where the manifest's notes say so); pct_of_*: 100 x "
            "mean / the reference's committed mean on the same seeds, or the reference run beside it"
        ),
    )
    print(f"wrote {args.out} ({len(rows)} rows, {time.perf_counter() - t0:.0f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="copy the source runs' best.pt into the package and write the manifest")
    ex.add_argument("--machine", default=machine(), help="where the source runs trained (default: this machine)")
    ex.add_argument("--only", nargs="+", default=None, help="problems to export (the other entries are kept)")
    ev = sub.add_parser("evaluate", help="evaluate every shipped controller -> results/pretrained.json")
    ev.add_argument("--only", nargs="*", default=None, help="problems (or pretrained names) to evaluate")
    ev.add_argument("--out", default=str(RESULTS / "pretrained.json"))
    args = ap.parse_args()
    np.set_printoptions(precision=4)
    export(args) if args.cmd == "export" else evaluate(args)


if __name__ == "__main__":
    main()
