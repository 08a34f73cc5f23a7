"""Multilevel Critical Node benchmark (issue 6): MultiL-Cur and MultiL-DQN against the exact solver.

One run measures, on the same machine:

1. *training*: MultiL-Cur (experts for total budgets 1..9) and MultiL-DQN (one network, Q-learning, the same
   wall time as the curriculum), both on random graphs of 10-20 nodes, edge density 0.1-0.2, budgets
   ``omega in 0..3, phi in 1..3, lambda in 0..3`` (the reference's D1 distribution), training and validation
   states from seed streams ``(seed, 0)``, ``(seed, 1)``, ``(seed, 2)``;
2. *small*: test instances from the same distribution drawn from another seed stream (``(TEST_SEED, 3)``),
   solved exactly and by greedy play of each learned value function (both players learned). Optimality gap
   ``mean |v_learned - v_exact| / v_exact``, overall and *per player*: the player alone plays by the
   network, the others optimally (the vaccinator's learned choice followed by the exact attack/protection
   value; the learned attack after the optimal vaccination, followed by the exact protection; the learned
   protection after the optimal vaccination and attack);
3. *look-ahead*: each learned value function is also played with a two-ply look-ahead (``-la2`` controllers,
   ``ValueFunction.searching(2, width)``): the ``width`` best afterstates by the one-ply values are valued by
   their own look-ahead (the experts two budgets lower, or the exact value where the game ends). The width (5)
   was chosen on 1,000 development instances (seed stream ``(DEV_SEED, 5)``, ``benchmarks/critical_node.py
   --dev``), never on the test instances;
4. *n40 ... n100*: random graphs of 5 % density (as the public ``rndgraph05`` instances) with the public
   budget triples 1-1-1, 2-2-2, 3-1-3, 1-3-3, 3-3-1, 3-3-3; the exact solver runs under a per-instance time
   cap and the gap is taken over the instances it finished (their number is reported); the time ratio
   ``speedup_vs_exact`` is total exact time / total learned time over those same instances, and
   ``speedup_vs_exact_all_min`` the same over *all* instances with the cap as the exact time of an unfinished
   one (a lower bound: the exact solver would need at least that long); ``saved_over_half`` counts the
   instances where more than half of the graph ends up saved, a break-down of learned play on the 60-100-node
   graphs (5 % density), whose solved optima save at most 14 nodes.

``run(features=...)`` (``--features``) picks the feature set of
:mod:`netctrl.problems.critical_node.features` (default ``"hybrid"``: size-invariant node features with the
sum read-out capped at 20 nodes; ``"absolute"``: the first published set); its checkpoints must be
trained with it (loading checks the feature set recorded in each checkpoint). ``benchmarks/critical_node_features.py``
compares checkpoints of either feature set on development instances only (small ones and 40-100-node ones
from :data:`DEV_SEED`).

Usage::

    python benchmarks/critical_node.py                # train (or reuse runs/bench/critical_node) and evaluate
    python benchmarks/critical_node.py --train-only   # train only
    python benchmarks/critical_node.py --quick        # smoke run with tiny budgets (not a result)
    python benchmarks/critical_node.py --dev 1000 --lookahead-width 2 3 5 99   # development instances only
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from common import command_line, write_results

from netctrl.algos.curriculum import (
    CurriculumConfig,
    DQNConfig,
    MeanValueFunction,
    checkpoint_encoding,
    load_value_function,
    save_value_function,
    train_curriculum,
    train_dqn,
)
from netctrl.errors import SolverError
from netctrl.problems.critical_node import PUBLIC_BUDGETS, ExactSolver, MCNInstance, random_instance
from netctrl.problems.critical_node.features import DEFAULT_FEATURES, FEATURE_SETS, CriticalNodeGame
from netctrl.progress import track
from netctrl.registry import get_problem

TEST_SEED = 10_000
DEV_SEED = 777
"""development instances: ``SeedSequence([DEV_SEED, 5])``, disjoint from the test and training streams"""
LOOKAHEAD_WIDTH = 5
"""width of the two-ply look-ahead of the ``-la2`` controllers (chosen on the development instances)"""


# ------------------------------------------------------------------------------------------ training
def train_or_load(kind: str, runs: Path, game, cfg, retrain: bool, log=print):
    path = Path(runs) / f"{kind}.pt"
    if path.exists() and not retrain:
        vf, ck = load_value_function(path, game)
        return vf, {"train_wall_s": round(float(ck["wall_s"]), 1), "config": ck["config"], "history": ck["history"]}
    res = (train_curriculum if kind == "multil-cur" else train_dqn)(game, cfg, log=log)
    save_value_function(path, res, kind, {"problem": get_problem("critical_node/d1").identity()})
    vf, ck = load_value_function(path, game)
    return vf, {"train_wall_s": round(res.wall_s, 1), "config": res.config, "history": res.history}


# ---------------------------------------------------------------------------------------- evaluation
def _line(inst: MCNInstance, nodes_by_stage):
    """The state after playing the given vaccinated / infected node lists in order."""
    s = inst.initial_state()
    for nodes in nodes_by_stage:
        for v in nodes:
            s = s.play(v)
    return s


def _value(solver: ExactSolver, s) -> int:
    return s.value_if_over() if s.stage is None else solver.value(s)


def learned_value(vf, inst: MCNInstance) -> tuple[int, float]:
    t0 = time.perf_counter()
    end, _ = vf.play(inst.initial_state())
    return end.value_if_over(), time.perf_counter() - t0


def per_player_values(vf, inst: MCNInstance, solver: ExactSolver, opt) -> dict:
    """Value when one player plays by the network and the others optimally (``opt``: an optimal line)."""
    out = {}
    if inst.omega:
        s = inst.initial_state()
        while s.stage == 0:
            s = vf.lookahead(s)[2]
        out["vaccinator"] = _value(solver, s)
    if inst.phi:
        s = _line(inst, [opt.vaccinated])
        while s.stage == 1:
            s = vf.lookahead(s)[2]
        out["attacker"] = _value(solver, s)
    if inst.lam:
        s = _line(inst, [opt.vaccinated, opt.infected])
        while s.stage == 2:
            s = vf.lookahead(s)[2]
        out["protector"] = _value(solver, s)
    return out


def _gap(v, ref) -> float:
    return abs(v - ref) / ref if ref > 0 else float(v != ref)


def evaluate_small(vfs: dict, instances, log=print, per_player: bool = True):
    """Exact and learned values of ``instances`` (and, if ``per_player``, each player alone by the network)."""
    exact_t, recs = [], []
    for k, inst in enumerate(track(instances, "small instances (exact + learned)")):
        solver = ExactSolver(inst)
        res = solver.solve_state(inst.initial_state())
        exact_t.append(res.wall_s)
        rec = {"exact": res.value, "exact_s": res.wall_s}
        for label, vf in vfs.items():
            v, t = learned_value(vf, inst)
            rec[label] = {
                "value": v,
                "time_s": t,
                "per_player": per_player_values(vf, inst, solver, res) if per_player else {},
            }
        recs.append(rec)
        if (k + 1) % 50 == 0:
            log(f"[small] {k + 1}/{len(instances)} instances")
    rows = [
        {
            "size": "small",
            "controller": "exact",
            "instances": len(instances),
            "gap_pct": 0.0,
            "time_s": float(np.mean(exact_t)),
            "speedup_vs_exact": 1.0,
        }
    ]
    for label in vfs:
        gaps = [_gap(r[label]["value"], r["exact"]) for r in recs]
        t = [r[label]["time_s"] for r in recs]
        per = {}
        for p in ("vaccinator", "attacker", "protector") if per_player else ():
            g = [_gap(r[label]["per_player"][p], r["exact"]) for r in recs if p in r[label]["per_player"]]
            per[p] = {
                "gap_pct": 100 * float(np.mean(g)),
                "instances": len(g),
                "optimal_pct": 100 * float(np.mean(np.asarray(g) == 0)),
            }
        rows.append(
            {
                "size": "small",
                "controller": label,
                "instances": len(instances),
                "gap_pct": 100 * float(np.mean(gaps)),
                "gap_max_pct": 100 * float(np.max(gaps)),
                "optimal_pct": 100 * float(np.mean(np.asarray(gaps) == 0)),
                "approx_ratio": float(
                    np.mean(
                        [
                            max(r[label]["value"] / r["exact"], r["exact"] / max(r[label]["value"], 1))
                            if r["exact"]
                            else 1.0
                            for r in recs
                        ]
                    )
                ),
                "time_s": float(np.mean(t)),
                "speedup_vs_exact": float(np.sum(exact_t) / np.sum(t)),
                "per_player": per,
            }
        )
    return rows, recs


def evaluate_large(vfs: dict, sizes, per_triple: int, time_cap: float, log=print, seed_base: int = TEST_SEED):
    """Random graphs of 5 % density with the public budget triples (instance seeds ``seed_base + 100 n + 10 k + j``:
    the test instances with :data:`TEST_SEED`, development instances with :data:`DEV_SEED`)."""
    rows, recs = [], []
    for n in sizes:
        insts = [
            random_instance(
                n, 0.05, b, seed=seed_base + 100 * n + 10 * k + j, name=f"rnd05-{n}_{b[0]}-{b[1]}-{b[2]}_{k}"
            )
            for j, b in enumerate(PUBLIC_BUDGETS)
            for k in range(per_triple)
        ]
        size_recs = []
        for inst in track(insts, f"{n}-node instances (exact + learned)"):
            rec = {"name": inst.name, "n": n}
            try:
                res = ExactSolver(inst, time_limit=time_cap).solve_state(inst.initial_state())
                rec.update(exact=res.value, exact_s=res.wall_s)
            except SolverError:
                rec.update(exact=None, exact_s=None)
            for label, vf in vfs.items():
                v, t = learned_value(vf, inst)
                rec[label] = {"value": v, "time_s": t}
            log(
                f"[n{n}] {inst.name}: exact {rec['exact']} ({rec['exact_s'] and round(rec['exact_s'], 1)}s) "
                + " ".join(f"{lab} {rec[lab]['value']} ({rec[lab]['time_s']:.2f}s)" for lab in vfs)
            )
            size_recs.append(rec)
        solved = [r for r in size_recs if r["exact"] is not None]
        ex_t = [r["exact_s"] for r in solved]
        ex_all = [r["exact_s"] if r["exact"] is not None else time_cap for r in size_recs]  # at least the cap
        rows.append(
            {
                "size": f"n{n}",
                "controller": "exact",
                "instances": len(insts),
                "solved_within_cap": len(solved),
                "time_cap_s": time_cap,
                "gap_pct": 0.0 if solved else None,
                "time_s": float(np.mean(ex_t)) if solved else None,
                "speedup_vs_exact": 1.0 if solved else None,
                "time_s_all_min": float(np.mean(ex_all)),
            }
        )
        for label in vfs:
            t_all = [r[label]["time_s"] for r in size_recs]
            t_sol = [r[label]["time_s"] for r in solved]
            gaps = [_gap(r[label]["value"], r["exact"]) for r in solved]
            rows.append(
                {
                    "size": f"n{n}",
                    "controller": label,
                    "instances": len(insts),
                    "gap_instances": len(solved),
                    "gap_pct": 100 * float(np.mean(gaps)) if solved else None,
                    "gap_max_pct": 100 * float(np.max(gaps)) if solved else None,
                    "time_s": float(np.mean(t_all)),
                    "speedup_vs_exact": float(np.sum(ex_t) / np.sum(t_sol)) if solved else None,
                    "speedup_vs_exact_all_min": float(np.sum(ex_all) / np.sum(t_all)),
                    "saved_over_half": sum(r[label]["value"] > n / 2 for r in size_recs),
                }
            )
        recs += size_recs
    return rows, recs


# -------------------------------------------------------------------------------------------- the plot
def plot(rows, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(dict.fromkeys(r["size"] for r in rows))
    labels = [c for c in dict.fromkeys(r["controller"] for r in rows) if c != "exact"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(sizes))
    for k, lab in enumerate(labels):
        g = [next((r["gap_pct"] for r in rows if r["size"] == s and r["controller"] == lab), None) for s in sizes]
        w = 0.8 / len(labels)
        ax1.bar(
            x + (k - (len(labels) - 1) / 2) * w, [v if v is not None else 0 for v in g], w, label=lab, color=f"C{k}"
        )
    ax1.axhline(1.0, color="k", ls="--", lw=1, label="1 % bar")
    ax1.set_xticks(x, sizes)
    ax1.set_ylabel("optimality gap (%)")
    ax1.set_title("gap to the exact value (both players learned)")
    ax1.legend(fontsize=8)
    for k, lab in enumerate(["exact"] + labels):
        t = [next((r["time_s"] for r in rows if r["size"] == s and r["controller"] == lab), None) for s in sizes]
        pts = [(i, v) for i, v in enumerate(t) if v]
        if pts:
            ax2.plot(*zip(*pts), "o-", label=lab, color="k" if lab == "exact" else f"C{k - 1}")
    ax2.set_xticks(x, sizes)
    ax2.set_yscale("log")
    ax2.set_ylabel("mean time per instance (s, 1 core)")
    ax2.set_title("solve time")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- run
def run(
    out=Path("results"),
    runs=Path("runs/bench"),
    minutes=None,
    quick=False,
    retrain=False,
    command=None,
    small_instances=300,
    large_sizes=(40, 60, 80, 100),
    per_triple=1,
    time_cap=60.0,
    seed=0,
    train_only=False,
    ensemble_seeds=(),
    lookahead_width=LOOKAHEAD_WIDTH,
    dev=0,
    features=DEFAULT_FEATURES,
):
    """Train (or reuse) and evaluate; ``ensemble_seeds``: more curriculum seeds (``runs/.../seed<k>/``) whose
    experts are averaged with seed ``seed``'s into the controller ``multil-cur-ens<m>``; ``lookahead_width``:
    also play each controller with a two-ply look-ahead of this width (``<label>-la2``; 0: not);
    ``dev``: instead of the test, evaluate on this many development instances (overall gap only; there
    ``lookahead_width`` may list several widths) and write ``critical_node_dev.json``; ``features``: the
    feature set of the value networks (``CriticalNodeGame(features=...)``; checkpoints under ``runs`` must
    have been trained with it)."""
    out, runs = Path(out), Path(runs) / "critical_node"
    game = CriticalNodeGame(features=features)
    if quick:
        cur_cfg = CurriculumConfig(seed=seed, max_budget=9, states_per_stage=60, val_states=20, epochs=2)
        small_instances, large_sizes, time_cap = 12, (40,), 5.0
    else:
        cur_cfg = CurriculumConfig(seed=seed, time_limit_s=None if minutes is None else 60 * minutes)
    cur, cur_info = train_or_load("multil-cur", runs, game, cur_cfg, retrain)
    dqn_cfg = DQNConfig(
        seed=seed,
        updates=30 if quick else 1_000_000,
        target_every=10 if quick else 500,
        time_limit_s=cur_info["train_wall_s"],
    )
    dqn, dqn_info = train_or_load("multil-dqn", runs, game, dqn_cfg, retrain)
    members, ens_info = [cur], []
    for k in ensemble_seeds:
        vf_k, info_k = train_or_load("multil-cur", runs / f"seed{k}", game, replace(cur_cfg, seed=k), retrain)
        members.append(vf_k)
        ens_info.append(info_k["train_wall_s"])
    if train_only:
        return None
    vfs = {"multil-cur": cur, "multil-dqn": dqn}
    if ensemble_seeds:
        vfs[f"multil-cur-ens{len(members)}"] = MeanValueFunction(members)
    if dev:
        widths = [w for w in np.atleast_1d(lookahead_width).tolist() if w]
        vfs.update({f"{label}-la2w{w}": vf.searching(2, w) for label, vf in list(vfs.items()) for w in widths})
        return run_dev(vfs, dev, out, command, seed, ensemble_seeds, widths, features)
    if lookahead_width:
        vfs.update({f"{label}-la2": vf.searching(2, lookahead_width) for label, vf in list(vfs.items())})
    rng = np.random.default_rng(np.random.SeedSequence([TEST_SEED, 3]))
    test = [game.sample_instance(rng) for _ in range(small_instances)]
    rows, small_recs = evaluate_small(vfs, test)
    large_rows, large_recs = evaluate_large(vfs, large_sizes, per_triple, time_cap)
    rows += large_rows
    for r in rows:
        base = r["controller"].removesuffix("-la2")  # the look-ahead plays the same checkpoints
        if base in ("multil-cur", "multil-dqn"):
            r["train_wall_s"] = (cur_info if base == "multil-cur" else dqn_info)["train_wall_s"]
        elif base.startswith("multil-cur-ens"):
            r["train_wall_s"] = cur_info["train_wall_s"] + sum(ens_info)
            r["seeds"] = [seed, *ensemble_seeds]
        if r["controller"].endswith("-la2"):
            r["lookahead"] = {"depth": 2, "width": lookahead_width}
    small = {r["controller"]: r for r in rows if r["size"] == "small"}
    speed = {"speedup_vs_exact_small": small["multil-cur"]["speedup_vs_exact"]}
    for r in large_rows:
        if r["controller"] == "multil-cur":
            if r["speedup_vs_exact"] is not None:
                speed[f"speedup_vs_exact_{r['size']}"] = r["speedup_vs_exact"]
            speed[f"speedup_vs_exact_all_min_{r['size']}"] = r["speedup_vs_exact_all_min"]
    out.mkdir(parents=True, exist_ok=True)
    doc = write_results(
        out / "critical_node.json",
        "critical_node",
        rows,
        speed,
        command=command,
        seeds={"train": seed, "test": TEST_SEED},
        quick=quick,
        features=features,
        setup={
            "small": "random G(n, m) graphs, n in 10..20, edge density 0.1..0.2, omega in 0..3, "
            "phi in 1..3, lambda in 0..3 (test seed stream disjoint from training/validation)",
            "large": "random graphs of 5 % density, budgets "
            + ", ".join("-".join(map(str, b)) for b in PUBLIC_BUDGETS)
            + f", {per_triple} instance(s) per triple, exact solver capped at {time_cap:g}s",
        },
        training={
            "multil-cur": {k: cur_info[k] for k in ("train_wall_s", "config", "history")},
            "multil-dqn": {k: dqn_info[k] for k in ("train_wall_s", "config", "history")},
        },
    )
    (runs / "instances.json").write_text(
        json.dumps({"small": small_recs, "large": large_recs}, indent=1, default=float)
    )
    plot(rows, out / "critical_node.png")
    for r in rows:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "per_player"})
    return doc


def evaluate_dev(vfs: dict, n: int) -> list[dict]:
    """Rows (``size="dev"``, overall gap only) of every controller on ``n`` development instances of the
    small-graph distribution (seed stream ``(DEV_SEED, 5)``, disjoint from the test and training streams)."""
    rng = np.random.default_rng(np.random.SeedSequence([DEV_SEED, 5]))
    game = CriticalNodeGame()  # instance sampling does not depend on the feature set
    rows, _ = evaluate_small(vfs, [game.sample_instance(rng) for _ in range(n)], per_player=False)
    for r in rows:
        r["size"] = "dev"
        r.pop("per_player", None)
    return rows


def load_learned(path, features: str | None = None) -> tuple:
    """``(value function, checkpoint)`` of a checkpoint, played on a game with the encoding it was trained with,
    or with feature set ``features`` where that computes the same on the training graphs
    (:data:`~netctrl.problems.critical_node.features.SAME_ON_TRAINING_GRAPHS`, e.g. an absolute checkpoint played
    with ``"clipped"``: the same weights, clipped counts and the capped sum read-out on larger graphs)."""
    from netctrl.algos.curriculum import ValueFunction
    from netctrl.errors import ConfigError
    from netctrl.problems.critical_node.features import SAME_ON_TRAINING_GRAPHS

    trained = checkpoint_encoding(path, CriticalNodeGame.legacy_encoding)
    vf, ck = load_value_function(path, CriticalNodeGame(**trained))
    if features is None or features == vf.game.features:
        return vf, ck
    if (vf.game.features, features) not in SAME_ON_TRAINING_GRAPHS:
        raise ConfigError(
            f"{path} was trained with features {vf.game.features!r}; it can be played with "
            f"{features!r} only if they agree on the training graphs: {sorted(SAME_ON_TRAINING_GRAPHS)}"
        )
    game = CriticalNodeGame(features=features)
    nets = vf.nets if isinstance(vf.nets, dict) else {None: vf.nets}
    for net in nets.values():
        net.readout = game.readout
    return ValueFunction(game, vf.nets), {**ck, "played_with": {"features": features, "readout": game.readout}}


def run_dev(vfs: dict, n: int, out: Path, command, seed, ensemble_seeds, widths, features=DEFAULT_FEATURES) -> dict:
    """Gaps of every controller on ``n`` development instances (seed stream ``(DEV_SEED, 5)``), for choosing
    settings (e.g. the look-ahead width: controllers ``<label>-la2w<width>``) without looking at the test
    instances; written to ``<out>/critical_node_dev.json``."""
    rows = evaluate_dev(vfs, n)
    Path(out).mkdir(parents=True, exist_ok=True)
    doc = write_results(
        Path(out) / "critical_node_dev.json",
        "critical_node_dev",
        rows,
        {},
        command=command,
        seeds={"train": seed, "ensemble": list(ensemble_seeds), "dev": [DEV_SEED, 5]},
        lookahead={"depth": 2, "widths": widths},
        features=features,
    )
    for r in rows:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    return doc


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
    p.add_argument(
        "--ensemble-seeds",
        type=int,
        nargs="*",
        default=[],
        help="more curriculum seeds averaged with --seed into multil-cur-ens<m>",
    )
    p.add_argument(
        "--lookahead-width",
        type=int,
        nargs="+",
        default=[5],
        help="also play each controller with a two-ply look-ahead of this width (<label>-la2; 0: not); "
        "with --dev, several widths may be compared",
    )
    p.add_argument(
        "--dev",
        type=int,
        default=0,
        help="evaluate on this many development instances instead (results/critical_node_dev.json)",
    )
    p.add_argument(
        "--features",
        choices=sorted(FEATURE_SETS),
        default=DEFAULT_FEATURES,
        help="feature set of the value networks (relative: size-invariant; hybrid: relative features, "
        "sum read-out capped at 20 nodes; clipped: hybrid without the fractions; needs --runs "
        "trained with it)",
    )
    p.add_argument("--train-only", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, not a result")
    a = p.parse_args()
    torch.set_num_threads(1)
    run(
        out=a.out,
        runs=a.runs,
        minutes=a.minutes,
        quick=a.quick,
        retrain=a.retrain,
        command=command_line(),
        small_instances=a.small,
        large_sizes=tuple(a.sizes),
        per_triple=a.per_triple,
        time_cap=a.time_cap,
        seed=a.seed,
        train_only=a.train_only,
        ensemble_seeds=tuple(a.ensemble_seeds),
        lookahead_width=a.lookahead_width if a.dev else a.lookahead_width[0],
        dev=a.dev,
        features=a.features,
    )
