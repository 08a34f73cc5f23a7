"""Network-flow benchmark: graph-size scaling, transfer to unseen graphs, and Ray rollout throughput.

Training: the bi-level agent (Dirichlet over nodes per commodity + multi-commodity LP) and the naive
edge-level agent (a Gaussian per arc and commodity) are trained once, from scratch, with the same PPO and the
same RL wall-time budget on problem ``network_flow/gabriel-mix`` (Gabriel graphs of 10, 20 and 50 nodes in
40-step episodes and the 50-node one in 12-step episodes, ``SHORT_EPISODES``; one iteration on each in turn;
checkpoint chosen on validation seeds of the 20-node graph). Before PPO, the bi-level agent is pretrained by
imitation (DAgger) of the forecast MPC's next state (:mod:`netctrl.algos.imitation`) on the training graphs and
a 100-node one (``netctrl.problems.network_flow.PRETRAIN_SIZES``); its training cost (``train_wall_s``)
includes that stage.

Evaluation, without retraining, on every graph of :data:`GRAPHS`: the training graphs (``split=train``), the
100-node graph of the imitation stage (``split=imitation``: the teacher labelled episodes on it, PPO never ran
on it) and graphs never seen in training (``split=unseen``: 200 and 500 nodes, other Gabriel instances, the
B4, GEANT and AT&T topologies), all on the same test seeds per graph, with

* ``oracle``: the exact optimum of each episode (time-expanded LP over the whole episode with perfect
  foresight, solved once per episode: with an exact model this equals re-solving every step);
* ``mpc-forecast``: the receding-horizon MPC without foresight (expected arrivals, current capacities, horizon
  15, one LP per step; the bi-level agent's teacher), on graphs of up to :data:`FORECAST_MAX_NODES` nodes (an
  LP per step makes it the slowest controller by far);
* ``shortest-path`` (greedy), ``shortest-path-deadline`` (greedy moving only the units that can still arrive
  by the episode's end: the bi-level agent's prior) and ``random``.

Decision time per step (``decision_ms``): measured in the same evaluation for the agents and heuristics; for
the oracle, ``decision_ms`` is the *receding-horizon* MPC (horizon 15, re-solved every step, the controller a
deployment would run) timed on the first steps of one test episode, and ``plan_ms`` the full-episode solve.

Speed: ``decision_speedup_vs_oracle_<n>`` = oracle MPC step time / bi-level step time (same run);
``ray_rollout_speedup_2_workers`` = PPO rollout throughput (steps/s) on 2 Ray actors / on 1 actor, and
``ray_rollout_speedup_vs_local`` = 2 actors / in-process, on the 20-node graph.

Writes ``results/network_flow.json`` (format of RESULTS.md) and ``results/network_flow.png``.

Usage::

    python benchmarks/network_flow.py                 # train (if needed) + evaluate -> results/network_flow.json
    python benchmarks/network_flow.py --quick         # smoke run with tiny budgets
    python benchmarks/network_flow.py --train-only --agents bilevel-ppo   # only train (e.g. one process per core)
    python benchmarks/network_flow.py --ray-only      # measure the Ray throughput again (on an idle machine)

Training runs go to runs/bench/network_flow/gabriel-mix/<agent>/ and are reused unless --retrain is given.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from common import (
    benchmark_options,
    benchmark_parser,
    command_line,
    load_agent,
    machine,
    ray_throughput,
    train_or_load,
    write_results,
)

from netctrl.evaluate import compare, print_table, rows_to_records
from netctrl.problems.network_flow import (
    MIX_SIZES,
    PRETRAIN_SIZES,
    SHORT_EPISODES,
    ForecastMPC,
    GreedyShortestPath,
    OracleMPC,
    RandomDistribution,
    oracle_plan,
)
from netctrl.progress import track
from netctrl.registry import load_problem
from netctrl.train import atomic_write_text, configure_threads

TRAIN_PROBLEM = "network_flow/gabriel-mix"
#: the training mix's short-episode graphs, in words
SHORT = ", ".join(f"{n} nodes in {steps}-step episodes" for n, steps in SHORT_EPISODES)
LABELS = ("bilevel-ppo", "edge-ppo")
BUDGET_MIN = 15.0


def _split(source: str) -> str:
    """``train``, ``imitation`` (teacher-labelled episodes only) or ``unseen`` for graph ``source``."""
    parts = source.split("/")
    if parts[0] != "gabriel" or parts[2] != "0":
        return "unseen"
    n = int(parts[1])
    return "train" if n in MIX_SIZES else "imitation" if n in PRETRAIN_SIZES else "unseen"


#: (graph source, split)
GRAPHS = tuple(
    (g, _split(g))
    for g in (
        "gabriel/10/0",
        "gabriel/20/0",
        "gabriel/50/0",
        "gabriel/20/5",
        "gabriel/50/5",
        "gabriel/100/0",
        "gabriel/200/0",
        "gabriel/500/0",
        "b4",
        "geant",
        "att",
    )
)
#: fewer test episodes on the largest graphs: the oracle solves one LP of ~0.2M (200 nodes) and ~0.5M (500)
#: variables per episode, minutes each on this machine
EPISODES = {"gabriel/200/0": 5, "gabriel/500/0": 2}
MPC_STEPS = 3
FORECAST_MAX_NODES = 50


def graph_problem(source: str):
    """A problem spec for any network-flow graph (the family's defaults, that graph)."""
    return load_problem("network_flow", source)


def mpc_step_ms(problem, seed: int, steps: int = MPC_STEPS, horizon: int = 15, foresight: bool = True) -> float:
    """Median time of one receding-horizon oracle MPC decision (``foresight=False``: the forecast MPC's) on the
    first ``steps`` steps of an episode."""
    env = problem.make_env()
    env.reset(seed=seed)
    times = []
    for _ in track(range(steps), f"{'oracle' if foresight else 'forecast'} MPC steps ({env.N} nodes)"):
        t0 = time.perf_counter()
        flows, _ = oracle_plan(env, horizon, foresight=foresight)
        times.append(time.perf_counter() - t0)
        env.step(flows.astype(np.float32))
    return 1e3 * float(np.median(times))


def update_ray(out: Path = Path("results"), command: str | None = None) -> dict:
    """Measure only the Ray rollout throughput again, into the existing ``out/network_flow.json`` (its
    ``speed`` keys, plus ``ray_command``, ``ray_date`` and ``ray_machine``): the ratio is only meaningful on an
    otherwise idle machine, and the full benchmark takes an hour."""
    path = Path(out) / "network_flow.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the full benchmark first")
    doc = json.loads(path.read_text())
    ray = ray_throughput("network_flow/gabriel-20")
    if not ray:
        raise RuntimeError("Ray is not installed: pip install 'netctrl[ray]'")
    print("ray:", ray)
    doc["speed"].update(ray)
    doc.update(ray_command=command or command_line(), ray_date=time.strftime("%Y-%m-%d"), ray_machine=machine())
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return doc


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gab = [r for r in rows if r["scenario"].startswith("gabriel/") and r["scenario"].endswith("/0")]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for k, c in enumerate(
        ("bilevel-ppo", "edge-ppo", "shortest-path", "random", "mpc-forecast", "shortest-path-deadline")
    ):
        pts = sorted((r["nodes"], r["pct_of_oracle"]) for r in gab if r["controller"] == c)
        if pts:
            a1.plot(*zip(*pts), "o-", color=f"C{k}", label=c)
    a1.axhline(100, color="k", ls="--", lw=1, label="oracle (episode optimum)")
    a1.axvspan(min(MIX_SIZES) * 0.8, max(MIX_SIZES) * 1.1, color="0.9", label="training sizes")
    a1.axvspan(max(MIX_SIZES) * 1.1, max(PRETRAIN_SIZES) * 1.1, color="0.95", label="imitation only")
    a1.set(xscale="log", xlabel="nodes (Gabriel graphs)", ylabel="reward, % of oracle", title="quality vs graph size")
    a1.legend(fontsize=8)
    for k, c in enumerate(("bilevel-ppo", "edge-ppo", "oracle")):
        pts = sorted((r["nodes"], r["decision_ms"]) for r in gab if r["controller"] == c)
        if pts:
            a2.plot(
                *zip(*pts),
                "o-",
                color=f"C{k}" if c != "oracle" else "k",
                label=c if c != "oracle" else "oracle MPC (horizon 15)",
            )
    a2.set(
        xscale="log",
        yscale="log",
        xlabel="nodes (Gabriel graphs)",
        ylabel="decision time per step (ms)",
        title="decision time vs graph size",
    )
    a2.legend(fontsize=8)
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def run(
    out: Path = Path("results"),
    runs: Path = Path("runs/bench"),
    minutes: float | None = None,
    seed: int = 0,
    episodes: int = 10,
    retrain: bool = False,
    quick: bool = False,
    train_only: bool = False,
    labels=LABELS,
    graphs=GRAPHS,
    ray: bool = True,
    command: str | None = None,
) -> dict | None:
    out, runs = Path(out), Path(runs)
    out.mkdir(parents=True, exist_ok=True)
    configure_threads(1)
    minutes = 0.2 if quick else (BUDGET_MIN if minutes is None else minutes)
    run_dirs = {l: runs / "network_flow" / "gabriel-mix" / l for l in labels}
    records = {l: train_or_load(TRAIN_PROBLEM, l, run_dirs[l], minutes, seed, retrain, quick) for l in labels}
    if train_only:
        return None
    if quick:
        graphs = [g for g in graphs if g[0] in ("gabriel/10/0", "gabriel/20/5")]
    rows, speed = [], {}
    for source, split in graphs:
        prob = graph_problem(source)
        env = prob.make_env()
        nodes, T = env.N, env.T
        controllers = {l: load_agent(run_dirs[l], l, prob) for l in labels}
        controllers.update(
            {
                "oracle": OracleMPC(horizon=T, replan_every=T),
                "shortest-path": GreedyShortestPath(),
                "shortest-path-deadline": GreedyShortestPath(deadline=True),
                "random": RandomDistribution(seed),
            }
        )
        if nodes <= FORECAST_MAX_NODES:
            controllers["mpc-forecast"] = ForecastMPC(horizon=15)
        seeds = list(prob.test_seeds)[: (2 if quick else EPISODES.get(source, episodes))]
        t0 = time.perf_counter()
        recs = rows_to_records(
            prob,
            compare(prob, controllers, seeds, progress=True),
            extra={
                l: {"train_wall_s": records[l]["train_wall_s"], "train_episodes": records[l]["episodes"]}
                for l in labels
            },
        )
        mpc_ms = mpc_step_ms(prob, seeds[0], steps=1 if quick else MPC_STEPS)
        for r in recs:
            r.update(scenario=source, nodes=nodes, arcs=env.E, split=split)
            if r["controller"] == "oracle":
                r["plan_ms"] = r["decision_ms"] * T  # one solve per episode
                r["decision_ms"] = round(mpc_ms, 2)
        by = {r["controller"]: r for r in recs}
        if "bilevel-ppo" in by:
            speed[
                f"decision_speedup_vs_oracle_{nodes}"
                if source.startswith("gabriel/") and source.endswith("/0")
                else f"decision_speedup_vs_oracle_{source.replace('/', '_')}"
            ] = round(mpc_ms / by["bilevel-ppo"]["decision_ms"], 1)
        print_table(
            f"network flow / {source} ({nodes} nodes, {split}, {len(seeds)} test episodes, "
            f"{time.perf_counter() - t0:.0f} s)",
            recs,
            ["controller", "reward_mean", "reward_std", "pct_of_oracle", "delivered_mean", "decision_ms"],
        )
        rows += recs
    if ray:
        speed.update(ray_throughput("network_flow/gabriel-20", iterations=2 if quick else 4))
    print("speed:", speed)
    name = "network_flow-quick" if quick else "network_flow"
    plot(rows, out / f"{name}.png")
    return write_results(
        out / f"{name}.json",
        "network_flow",
        rows,
        speed,
        command=command,
        training={TRAIN_PROBLEM: list(records.values())},
        notes="pct_of_oracle = 100 * mean reward / mean oracle reward on the same test seeds of each "
        "graph; oracle = episode optimum with perfect foresight (one time-expanded LP per "
        "episode); its decision_ms = receding-horizon MPC (horizon 15) per step, plan_ms = the "
        "full-episode solve; agents trained once on network_flow/gabriel-mix (Gabriel "
        f"{'/'.join(map(str, MIX_SIZES))} nodes, instance 0, {SHORT}) and evaluated without retraining, "
        "the bi-level agent "
        "pretrained by DAgger on the forecast MPC (no foresight) on Gabriel "
        f"{'/'.join(map(str, PRETRAIN_SIZES))} before PPO; mpc-forecast = that MPC, on "
        f"graphs of <= {FORECAST_MAX_NODES} nodes; test seeds 1000+",
    )


if __name__ == "__main__":
    p = benchmark_parser(__doc__, LABELS, episodes=10)
    p.add_argument("--minutes", type=float, default=None, help=f"training budget per agent (default {BUDGET_MIN})")
    p.add_argument("--no-ray", action="store_true", help="skip the Ray throughput measurement")
    p.add_argument(
        "--ray-only", action="store_true", help="only measure the Ray throughput again, into the existing results file"
    )
    a = p.parse_args()
    if a.ray_only:
        update_ray(out=a.out, command=command_line())
    else:
        run(
            **benchmark_options(a),
            minutes=a.minutes,
            ray=not a.no_ray,
        )
