"""WAN packet-routing benchmark (issue 5): the MAMRL paper's two experiments on B4, GEANT and AT&T.

Per topology (each written to ``runs/routing/<topology>/record.json`` and reused unless ``--retrain``):

1. **training** (intact topology, loads drawn from U(0.05, 0.5), 200-tick episodes):
   MAMRL = imitation of the balanced routing of the intact topology (``teacher_init``, the static topology
   knowledge SPA also has), then first-order MAML from there over link-failure tasks (the intact network and
   every single-link failure that keeps it connected, *except* the file's three failure scenarios, which are
   held out for the test), then ``adapt_episodes`` online episodes on the intact network; ``pg`` = the same
   per-router deep learner without consensus (each router's own reward) and without meta-initialisation,
   trained for as many episodes as MAMRL used in total.
2. **load sweep** (experiment ``load``): average delivery time at loads 0.005 .. 0.5, 300-tick episodes on
   the test seeds 1000.. (the same traffic for every controller; the learners frozen and sampling; Q-routing
   learns online, after ``q_warmup`` warm-up episodes at that load on other seeds).
3. **link failure** (experiment ``link_failure``, load 0.3): each of the file's failure scenarios; every
   learner runs ``fail_episodes`` online episodes (one update after each) on the failed network: MAMRL from
   its meta-initialisation (Algorithm 2), ``teacher-init`` the same learner from the imitation weights
   before MAML (what the meta-training adds), ``random-init`` the same learner from random weights, ``pg``
   from its trained pre-failure weights, Q-routing from its pre-failure table; SPA keeps its static routes.

**Adapted** (the same rule for every learner): with ``D_ref`` the lowest post-failure level reached by any
learner on that scenario (mean delivery time of its last 10 episodes) and ``L_pre`` SPA's packet loss per
episode on the intact network at the same load, a learner has adapted after ``k`` episodes when the mean of
its episodes ``k+1 .. k+5`` has delivery time <= 1.1 ``D_ref`` and packets lost <= ``L_pre`` + 0.5 % of the
packets generated. ``adapt_episodes`` is the smallest such ``k`` (``None``: not within the run; the row then
gives ``adapt_censored_at``). ``loss_recovery_episodes`` applies the loss half of the rule alone.

Usage::

    python benchmarks/routing.py                          # all topologies -> results/routing.json, results/routing.png
    python benchmarks/routing.py --topologies att --train-only   # one topology's record (e.g. one process per core)
    python benchmarks/routing.py --quick                  # smoke run with tiny budgets (not a result)
    python benchmarks/routing.py --speed-only             # the simulator speeds again (results' speed block only)

Every controller runs on the PettingZoo environment (``netctrl.problems.routing.RoutingParallelEnv``) through
the one episode runner (``netctrl.controllers.run_episode``); the learners are those of ``netctrl.algos.mamrl``,
MAMRL started from the recipe's teacher initialisation (``netctrl.recipes.routing.teacher_init``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from common import command_line, write_results

from netctrl.algos.mamrl import MAMRLConfig, RouterLearner, clone_state, meta_train, train_online
from netctrl.controllers import run_episode
from netctrl.problems.routing import MAMRL_CONFIG, PacketSim, RoutingParallelEnv, load_topology, meta_tasks
from netctrl.problems.routing.baselines import QRouting, ShortestPath
from netctrl.progress import track
from netctrl.recipes.routing import TeacherConfig, teacher_init
from netctrl.registry import get_problem
from netctrl.train import atomic_write_text

TOPOLOGIES = ("b4", "geant", "att")
LOADS = (0.005, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
FAIL_LOAD = 0.3
EVAL_HORIZON = 300
WINDOW, TOL_DELAY, TOL_LOSS = 5, 0.10, 0.005


def adapt_episodes(delays, losses, generated, d_ref: float, loss_pre: float) -> int | None:
    """Smallest ``k`` with episodes ``k+1..k+WINDOW`` at the reference level (see the module docstring).

    >>> adapt_episodes([30, 20, 11, 10, 10, 10, 10, 10], [5, 1, 0, 0, 0, 0, 0, 0], [100] * 8, 10.0, 0.0)
    2
    >>> adapt_episodes([30, 30, 30, 30, 30, 30], [0] * 6, [100] * 6, 10.0, 0.0) is None
    True
    """
    d, lo, g = (np.asarray(v, float) for v in (delays, losses, generated))
    for k in range(len(d) - WINDOW + 1):
        w = slice(k, k + WINDOW)
        if np.nanmean(d[w]) <= (1 + TOL_DELAY) * d_ref and lo[w].mean() <= loss_pre + TOL_LOSS * g[w].mean():
            return k
    return None


def episode(controller, env, seed: int) -> dict:
    """One episode of a controller (the one runner); its environment metrics."""
    return run_episode(controller, env, seed).metrics


def _mean(ms: list[dict], key: str) -> float:
    return float(np.nanmean([m[key] for m in ms]))


def train_learners(name: str, minutes: float, quick: bool, loads: tuple[float, float] | None = None, log=print) -> dict:
    """Step 1 of the module docstring on topology ``name``: the teacher's imitation, MAML from it over the meta
    tasks, MAMRL's online episodes, and ``pg`` trained for as many episodes. ``loads``: the training loads'
    range (default ``MAMRLConfig.loads``). Returns the weights (``teacher``, ``meta_init``), the learners
    (``mamrl``, ``pg``), their configs and the ``training`` summary."""
    topo = load_topology(name)
    spec = get_problem(f"routing/{name}")
    over = {} if loads is None else {"loads": tuple(loads)}
    cfg = MAMRLConfig(seed=0, **MAMRL_CONFIG, **over)
    pg_cfg = MAMRLConfig(seed=1, consensus=False, **over)
    tasks = meta_tasks(topo)
    meta_iters = 3 if quick else 300
    adapt_eps = 4 if quick else 100
    t0 = time.perf_counter()

    def make_env(task=()):
        return RoutingParallelEnv(topo, horizon=cfg.horizon, failed_links=task)

    teacher = teacher_init(
        spec,
        cfg,
        TeacherConfig(**({"episodes": 2, "epochs": 2} if quick else {})),
        log=lambda s: log(f"[{name}] {s}"),
        progress=True,
    )
    teacher_wall = time.perf_counter() - t0
    meta_policy, meta_hist = meta_train(
        make_env,
        tasks,
        cfg,
        meta_iters,
        time_limit_s=60 * minutes * 0.4,
        log=lambda s: log(f"[{name}] {s}"),
        init=teacher,
        progress=True,
    )
    meta_init = clone_state(meta_policy)
    meta_wall = time.perf_counter() - t0
    meta_episodes = 2 * cfg.meta_batch * len(meta_hist)
    mamrl = RouterLearner(make_env(), cfg)
    mamrl.reset_to(meta_init)
    t0 = time.perf_counter()
    mamrl, _ = train_online(make_env, cfg, adapt_eps, learner=mamrl, seed_base=30_000, progress=True)
    mamrl_wall = meta_wall + time.perf_counter() - t0
    pg_eps = meta_episodes + adapt_eps
    t0 = time.perf_counter()
    pg, pg_hist = train_online(
        make_env, pg_cfg, pg_eps, seed_base=40_000, log=lambda s: log(f"[{name}] pg {s}"), progress=True
    )
    pg_wall = time.perf_counter() - t0
    log(
        f"[{name}] trained: meta {len(meta_hist)} iterations ({meta_episodes} episodes, {meta_wall:.0f}s), "
        f"pg {len(pg_hist)} episodes ({pg_wall:.0f}s)"
    )
    training = {
        "teacher_wall_s": round(teacher_wall, 1),
        "meta_iterations": len(meta_hist),
        "meta_episodes": meta_episodes,
        "meta_tasks": len(tasks),
        "mamrl_online_episodes": adapt_eps,
        "mamrl_train_wall_s": round(mamrl_wall, 1),
        "pg_episodes": len(pg_hist),
        "pg_train_wall_s": round(pg_wall, 1),
        "config": cfg.__dict__ | {"loads": list(cfg.loads)},
    }
    return {
        "teacher": teacher,
        "meta_init": meta_init,
        "mamrl": mamrl,
        "pg": pg,
        "cfg": cfg,
        "pg_cfg": pg_cfg,
        "training": training,
    }


def run_topology(name: str, run_dir: Path, minutes: float, quick: bool, log=print) -> dict:
    """Train, sweep and fail on one topology; returns the record (also written to ``run_dir/record.json``)."""
    t_start = time.perf_counter()
    topo = load_topology(name)
    test_tasks = list(topo.failure_scenarios)
    n_eval = 2 if quick else 3
    seeds = list(range(1000, 1000 + n_eval))
    loads = (0.05, 0.3, 0.5) if quick else LOADS
    fail_eps = 12 if quick else 150
    q_warmup = 2 if quick else 5
    if quick:
        test_tasks = test_tasks[:1]

    # 1. training --------------------------------------------------------------------------------------
    trained = train_learners(name, minutes, quick, log=log)
    teacher, meta_init, mamrl, pg = (trained[k] for k in ("teacher", "meta_init", "mamrl", "pg"))
    cfg, pg_cfg = trained["cfg"], trained["pg_cfg"]
    rand_cfg = MAMRLConfig(seed=2, **MAMRL_CONFIG)

    def make_env(task=(), load=0.3, horizon=cfg.horizon):
        return RoutingParallelEnv(topo, load=load, horizon=horizon, failed_links=task)

    # 2. load sweep ----------------------------------------------------------------------------------------
    load_rows = []
    spa = ShortestPath(topo)
    for load in track(loads, f"[{name}] load sweep"):
        res = {"spa": [episode(spa, make_env((), load, EVAL_HORIZON), s) for s in seeds]}
        q = QRouting(topo)
        for k in range(q_warmup):
            episode(q, make_env((), load, EVAL_HORIZON), 50_000 + k)
        res["q-routing"] = [episode(q, make_env((), load, EVAL_HORIZON), s) for s in seeds]
        res["pg"] = [pg.run(make_env((), load, EVAL_HORIZON), s, learn=False) for s in seeds]
        res["mamrl"] = [mamrl.run(make_env((), load, EVAL_HORIZON), s, learn=False) for s in seeds]
        spa_d = _mean(res["spa"], "delivery_time")
        for ctrl, ms in res.items():
            d = _mean(ms, "delivery_time")
            load_rows.append(
                {
                    "topology": name,
                    "controller": ctrl,
                    "experiment": "load",
                    "load": load,
                    "delivery_time": round(d, 3),
                    "delivery_time_vs_spa": round(d / spa_d, 4),
                    "packets_lost": _mean(ms, "packets_lost"),
                    "sojourn_time": round(_mean(ms, "sojourn_time"), 3),
                    "delivered": _mean(ms, "delivered"),
                    "generated": _mean(ms, "generated"),
                    "episodes": len(seeds),
                    "seeds": seeds,
                    "horizon": EVAL_HORIZON,
                }
            )
        log(f"[{name}] load {load}: " + ", ".join(f"{c} {_mean(m, 'delivery_time'):.1f}" for c, m in res.items()))

    # 3. link failures ------------------------------------------------------------------------------------
    spa_pre = [episode(spa, make_env((), FAIL_LOAD), s) for s in seeds]
    loss_pre = _mean(spa_pre, "packets_lost")
    curves, fail_rows = {}, []
    per_ctrl: dict[str, list] = {c: [] for c in ("spa", "q-routing", "pg", "mamrl", "teacher-init", "random-init")}
    for si, task in enumerate(track(test_tasks, f"[{name}] link failures")):
        runs: dict[str, list[dict]] = {}
        fail_seeds = [60_000 + 1000 * si + k for k in range(fail_eps)]
        runs["spa"] = [episode(spa, make_env(task, FAIL_LOAD), s) for s in fail_seeds]
        q = QRouting(topo)
        for k in range(q_warmup):
            episode(q, make_env((), FAIL_LOAD), 55_000 + k)
        q.topo = topo.with_failures(task)  # same table; the simulator now has the failed link
        runs["q-routing"] = [episode(q, make_env(task, FAIL_LOAD), s) for s in fail_seeds]
        learners = {
            "mamrl": (cfg, meta_init),
            "teacher-init": (cfg, teacher),
            "random-init": (rand_cfg, None),
            "pg": (pg_cfg, clone_state(pg.policy)),
        }
        for label, (c, init) in learners.items():
            lrn = RouterLearner(make_env(task, FAIL_LOAD), c)
            if init is not None:
                lrn.reset_to(init)
            env = make_env(task, FAIL_LOAD)
            runs[label] = [lrn.run(env, s) for s in fail_seeds]
        adapting = ("q-routing", "pg", "mamrl", "teacher-init", "random-init")
        d_ref = min(float(np.nanmean([m["delivery_time"] for m in runs[c][-10:]])) for c in adapting)
        for ctrl, ms in runs.items():
            k = (
                adapt_episodes(
                    [m["delivery_time"] for m in ms],
                    [m["packets_lost"] for m in ms],
                    [m["generated"] for m in ms],
                    d_ref,
                    loss_pre,
                )
                if ctrl in adapting
                else None
            )
            per_ctrl[ctrl].append(
                {
                    "scenario": topo.link_names(task),
                    "adapt_episodes": k,
                    "d_ref": d_ref,
                    "final_delivery_time": _mean(ms[-10:], "delivery_time"),
                    "final_packets_lost": _mean(ms[-10:], "packets_lost"),
                    "first_packets_lost": ms[0]["packets_lost"],
                }
            )
            curves.setdefault(f"scenario{si}", {})[ctrl] = {
                "delivery_time": [m["delivery_time"] for m in ms],
                "packets_lost": [m["packets_lost"] for m in ms],
            }
        log(
            f"[{name}] failure {topo.link_names(task)}: d_ref {d_ref:.1f}; "
            + ", ".join(f"{c} {per_ctrl[c][-1]['adapt_episodes']}" for c in adapting)
        )
    for ctrl, items in per_ctrl.items():
        ks = [it["adapt_episodes"] for it in items]
        row = {
            "topology": name,
            "controller": ctrl,
            "experiment": "link_failure",
            "load": FAIL_LOAD,
            "delivery_time": round(float(np.mean([it["final_delivery_time"] for it in items])), 3),
            "packets_lost": float(np.mean([it["final_packets_lost"] for it in items])),
            "packets_lost_first_episode": float(np.mean([it["first_packets_lost"] for it in items])),
            "adapt_episodes": (float(np.mean(ks)) if ctrl != "spa" and all(k is not None for k in ks) else None),
            "adapt_episodes_per_scenario": ks if ctrl != "spa" else None,
            "scenarios": [it["scenario"] for it in items],
            "episodes": fail_eps,
            "horizon": cfg.horizon,
            "loss_pre_failure_spa": loss_pre,
        }
        if ctrl != "spa" and any(k is None for k in ks):
            row["adapt_censored_at"] = fail_eps
        fail_rows.append(row)
    record = {
        "topology": name,
        "rows": load_rows + fail_rows,
        "curves": curves,
        "training": trained["training"],
        "wall_s": round(time.perf_counter() - t_start, 1),
        "quick": quick,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "record.json", json.dumps(record, indent=1))
    return record


def loss_recovery(losses, expected_packets: float, loss_pre: float) -> int | None:
    """Smallest ``k`` with episodes ``k+1..k+WINDOW`` losing on average at most ``loss_pre`` + 0.5 % of the
    packets an episode brings (the loss half of the adapted rule, without the delivery-time half).

    >>> loss_recovery([40, 30, 0, 0, 0, 0, 0], 1000, 0.0)
    2
    """
    lo = np.asarray(losses, float)
    for k in range(len(lo) - WINDOW + 1):
        if lo[k : k + WINDOW].mean() <= loss_pre + TOL_LOSS * expected_packets:
            return k
    return None


def add_loss_recovery(rec: dict) -> None:
    """Add ``loss_recovery_episodes`` (per scenario, from the stored curves) to the record's failure rows."""
    topo = load_topology(rec["topology"])
    for r in rec["rows"]:
        if r["experiment"] != "link_failure" or r["controller"] == "spa":
            continue
        expected = FAIL_LOAD * topo.num_nodes * r["horizon"]
        r["loss_recovery_episodes_per_scenario"] = [
            loss_recovery(
                rec["curves"][f"scenario{i}"][r["controller"]]["packets_lost"], expected, r["loss_pre_failure_spa"]
            )
            for i in range(len(r["scenarios"]))
        ]


def ticks_per_second(name: str = "att", load: float = 0.3, ticks: int = 500, repeats: int = 3) -> float:
    """Simulator ticks per second with uniformly random actions (best of ``repeats`` episodes; the packet
    simulator alone, without the PettingZoo dictionaries)."""
    topo = load_topology(name)
    best = 0.0
    for r in range(repeats):
        sim = PacketSim(topo, load, seed=r)
        t0 = time.perf_counter()
        sim.reset()
        for _ in range(ticks):
            sim.step(sim.random_actions())
        best = max(best, ticks / (time.perf_counter() - t0))
    return best


def kernel_ticks_per_second(
    name: str = "att", load: float = 0.3, ticks: int = 500, episodes: int = 50, repeats: int = 3
) -> dict:
    """Shortest-path routing (a fixed routing) on ``name`` in the compiled kernel
    (:class:`~netctrl.problems.routing.kernel.FixedRoutingSim`), ``episodes`` episodes of ``ticks`` ticks: ticks
    per second of the simulation alone (the traffic drawn beforehand) and with each episode's traffic drawn in
    the timing; the same episodes stepped together (:class:`~netctrl.problems.routing.kernel.BatchedFixedRoutingSim`,
    environment-ticks per second, the traffic drawn beforehand); and for the same routing in ``PacketSim`` (one
    episode). Best of ``repeats``."""
    from netctrl.problems.routing.kernel import BatchedFixedRoutingSim, FixedRoutingSim, traffic

    topo = load_topology(name)
    ref = PacketSim(topo, load, seed=0)
    next_hop = ShortestPath(topo).next_hop
    rows = np.arange(topo.num_nodes)

    def draw(seed):
        return traffic(np.random.default_rng(seed), ref.n, ticks, load, ref.size_lo, ref.size_hi, ref.size_ref)

    FixedRoutingSim(topo, next_hop, draw(0)).run(ticks)  # compiled (or read from numba's cache) before timing
    alone = drawn = slow = 0.0
    for r in range(repeats):
        arrivals = [draw(1000 * r + e) for e in range(episodes)]
        t0 = time.perf_counter()
        for a in arrivals:
            FixedRoutingSim(topo, next_hop, a).run(ticks)
        alone = max(alone, episodes * ticks / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for e in range(episodes):
            FixedRoutingSim(topo, next_hop, draw(1000 * r + e)).run(ticks)
        drawn = max(drawn, episodes * ticks / (time.perf_counter() - t0))
        sim = PacketSim(topo, load, seed=r)
        t0 = time.perf_counter()
        for _ in range(ticks):
            head = sim.head_packets()
            dest = np.where(head >= 0, sim.p_dst[np.maximum(head, 0)], 0)
            sim.step(np.where(head >= 0, next_hop[rows, dest], 0))
        slow = max(slow, ticks / (time.perf_counter() - t0))
    batched = 0.0
    BatchedFixedRoutingSim(topo, next_hop, [draw(0), draw(1)]).run(ticks)  # compiled before timing
    for r in range(repeats):
        arrivals = [draw(1000 * r + e) for e in range(episodes)]
        t0 = time.perf_counter()
        BatchedFixedRoutingSim(topo, next_hop, arrivals).run(ticks)
        batched = max(batched, episodes * ticks / (time.perf_counter() - t0))
    return {
        f"kernel_ticks_per_s_{name}": round(alone, 1),
        f"kernel_batched_env_ticks_per_s_{name}": round(batched, 1),
        f"kernel_ticks_per_s_{name}_with_traffic": round(drawn, 1),
        f"sim_ticks_per_s_{name}_spa": round(slow, 1),
    }


def measure_speed() -> dict:
    return {
        "sim_ticks_per_s_att": round(ticks_per_second("att"), 1),
        "sim_ticks_per_s_att_reference": 1500.0,
        **kernel_ticks_per_second("att"),
    }


def update_speed(path: Path, command: str) -> None:
    """Replace the ``speed`` block of an existing results file, with the command, machine and date of this
    measurement beside it (``speed_measured``); its rows stay those of the run that wrote it."""
    from common import machine

    doc = json.loads(path.read_text())
    doc["speed"] = measure_speed()
    doc["speed_measured"] = {"command": command, "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["speed"]))


def plot(records: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(records), figsize=(5 * len(records), 11), squeeze=False)
    colors = {"spa": "k", "q-routing": "C0", "pg": "C1", "mamrl": "C3", "random-init": "C2", "teacher-init": "C4"}
    for j, rec in enumerate(records):
        name = rec["topology"]
        ax = axes[0, j]
        for ctrl in ("spa", "q-routing", "pg", "mamrl"):
            rows = [r for r in rec["rows"] if r["experiment"] == "load" and r["controller"] == ctrl]
            ax.plot([r["load"] for r in rows], [r["delivery_time"] for r in rows], "o-", color=colors[ctrl], label=ctrl)
        ax.set_title(f"{name}: delivery time vs load")
        ax.set_xlabel("load (packets per router per tick)")
        ax.set_ylabel("average delivery time (ticks)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        cur = rec["curves"].get("scenario0", {})
        for i, key in ((1, "delivery_time"), (2, "packets_lost")):
            ax = axes[i, j]
            for ctrl, c in cur.items():
                ax.plot(np.arange(1, len(c[key]) + 1), c[key], color=colors.get(ctrl), label=ctrl, lw=1)
            scen = next((r["scenarios"][0] for r in rec["rows"] if r["experiment"] == "link_failure"), "")
            ax.set_title(f"{name}: link {scen} failed, load {FAIL_LOAD}")
            ax.set_xlabel("episode after the failure")
            ax.set_ylabel(key.replace("_", " ") + " per episode")
            if key == "delivery_time":
                ax.set_yscale("log")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def run(
    out: Path = Path("results"),
    runs: Path = Path("runs/bench"),
    minutes: float | None = None,
    quick: bool = False,
    retrain: bool = False,
    command: str | None = None,
    topologies=TOPOLOGIES,
    train_only: bool = False,
) -> dict | None:
    """Run (or reuse) every topology's record, then write ``results/routing.json`` and ``results/routing.png``."""
    minutes = 10.0 if minutes is None else minutes  # meta-training is capped at 0.4 x minutes
    records = []
    for name in topologies:
        run_dir = Path(runs) / ("routing-quick" if quick else "routing") / name
        path = run_dir / "record.json"
        if path.exists() and not retrain:
            records.append(json.loads(path.read_text()))
            print(f"[{name}] reusing {path}")
        else:
            records.append(run_topology(name, run_dir, minutes, quick))
    if train_only:
        return None
    for rec in records:
        add_loss_recovery(rec)
    speed = measure_speed()
    rows = [r for rec in records for r in rec["rows"]]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "routing-quick" if quick else "routing"
    doc = write_results(
        out / f"{stem}.json",
        "routing",
        rows,
        speed,
        command=command,
        training={rec["topology"]: rec["training"] for rec in records},
        wall_s={rec["topology"]: rec["wall_s"] for rec in records},
        adapted_rule=__doc__.split("**Adapted**")[1].split("\n\nUsage::")[0].strip(),
        note="delivery_time averages the packets delivered within the episode; sojourn_time "
        "counts every generated packet up to the episode's end",
    )
    plot(records, out / f"{stem}.png")
    return doc


def parser(doc: str) -> argparse.ArgumentParser:
    """The options the routing benchmarks share (per-topology records, training budget, smoke runs)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--runs", type=Path, default=Path("runs/bench"), help="per-topology records (reused if present)")
    p.add_argument("--topologies", nargs="+", default=list(TOPOLOGIES))
    p.add_argument("--minutes", type=float, default=None, help="meta-training time cap per topology is 0.4 x this")
    p.add_argument("--retrain", action="store_true", help="recompute records even if present")
    p.add_argument("--train-only", action="store_true", help="write the topologies' records, not the results")
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run, not a result")
    return p


if __name__ == "__main__":
    torch.set_num_threads(1)
    p = parser(__doc__)
    p.add_argument(
        "--speed-only",
        action="store_true",
        help="measure the simulator speeds again and replace the results file's speed block (rows unchanged)",
    )
    a = p.parse_args()
    if a.speed_only:
        update_speed(a.out / "routing.json", command_line())
        raise SystemExit(0)
    run(
        out=a.out,
        runs=a.runs,
        minutes=a.minutes,
        quick=a.quick,
        retrain=a.retrain,
        command=command_line(),
        topologies=tuple(a.topologies),
        train_only=a.train_only,
    )
