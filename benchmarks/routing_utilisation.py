"""WAN routing at loads defined by utilisation (issue 23): every controller from light load to past capacity.

The paper's loads (λ, new packets per router and tick) mean different things on different networks: a router
forwards one packet per tick, so a network carries λ only up to ``1 / w*``, where ``w*`` is the busiest router's
load per unit λ under the routing that makes it smallest (:func:`~netctrl.problems.routing.capacity.min_max_unit_load`,
an LP). This benchmark sweeps the **utilisation** ``ρ = λ w*`` (``ρ = 1``: no routing at all keeps every queue
bounded) over ``RHOS`` on B4, GEANT and AT&T, with λ beside it, plus the paper's λ = 0.5 (ρ = 1.59 / 2.20 /
1.83), in 500-tick episodes as in the paper, on test seeds 1000.. (the same traffic for every controller).

Controllers: ``spa`` (shortest path), ``balanced`` (the LP's routing of least busiest load, next hops drawn from its
splits), ``min-delay`` (the static routing of least modelled delay *for this λ*, an LP: what an operator who knows the
traffic level runs; :class:`~netctrl.problems.routing.baselines.DelayRouting`), ``random``, ``q-routing`` (learning
online, after ``Q_WARMUP`` warm-up episodes at that load on other seeds), and the learners of
``benchmarks/routing.py``'s step 1 (``train_learners``: MAMRL = imitation of ``balanced``, first-order MAML over
link-failure tasks, online episodes; ``pg`` with as many episodes), trained here with loads drawn from ``ρ ∈
TRAIN_RHO`` (converted to λ per topology), frozen and sampling at test time (each test episode's action generator
seeded by the test seed, so the rows do not depend on the order they are run in).

Rows (experiment ``utilisation``, merged into ``results/routing.json`` beside the other experiments' rows):
``utilisation`` (ρ), ``load`` (λ), ``delivery_time`` (delivered packets), ``sojourn_time`` (ticks in the network
per generated packet, the undelivered ones counted to the episode's end), ``throughput`` (delivered per tick),
``packets_lost``, and the ratios of the delivery and sojourn times to SPA's and to ``balanced``'s (ratios of
means over the same episodes), with the standard error of the paired per-episode sojourn difference to SPA.

Bars (issue 23), reported under ``utilisation_run.bars``: at ρ = 0.9, MAMRL's delivery and sojourn times ≤ 0.6
× SPA's, ≤ 1.2 × ``balanced``'s and ≤ ``pg``'s; at ρ ≤ 0.1, MAMRL's delivery time ≤ 1.02 × SPA's.

Usage::

    python benchmarks/routing_utilisation.py --topologies att --train-only   # one topology's record (one per core)
    python benchmarks/routing_utilisation.py                 # records (reused) -> results/routing.json rows, plot
    python benchmarks/routing_utilisation.py --quick         # smoke run (not a result), its own files
    python benchmarks/routing_utilisation.py --resweep       # sweep again with the saved learners
    python benchmarks/routing_utilisation.py --validate-failures   # the link-state prior's validation
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from common import command_line, machine
from routing import TOL_DELAY, TOPOLOGIES, adapt_episodes, parser, train_learners

from netctrl.algos.mamrl import MAMRLConfig, RouterLearner, make_policy, meta_train, train_online
from netctrl.controllers import run_episode
from netctrl.problems.routing import MAMRL_CONFIG, RoutingParallelEnv, load_topology, meta_tasks
from netctrl.problems.routing.baselines import (
    BalancedRouting,
    DelayRouting,
    PriorRouting,
    QRouting,
    RandomRouting,
    ShortestPath,
)
from netctrl.problems.routing.capacity import min_max_unit_load
from netctrl.progress import track
from netctrl.train import atomic_write_text

RHOS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)
PAPER_LOAD = 0.5
TRAIN_RHO = (0.05, 1.2)
HORIZON = 500
SEEDS = tuple(range(1000, 1010))
Q_WARMUP = 5
LEARNERS = ("pg", "mamrl", "mamrl-prior")
CONTROLLERS = ("spa", "balanced", "min-delay", "random", "q-routing", *LEARNERS)
FAIL_RHO, FAIL_HORIZON, FAIL_EPISODES, PRE_EPISODES = 0.7, 200, 60, 5
REPLANNED = "min-delay (re-planned)"
"""the minimum-delay routing of the failed network (it knows the failure): the level any routing can get back to"""
JUDGED = "mamrl-prior"
"""the learner the bars are judged on; in the failure experiment on the link-state prior (docs/development-log.md)"""
STATIC_PRIOR = "mamrl-prior (static prior)"
"""the judged learner's weights with the prior that ignores failures (the design before the link-state prior)"""
PRIOR = "prior (link-state)"
"""the judged learner's link-state prior alone (:class:`~netctrl.problems.routing.baselines.PriorRouting`)"""
VALIDATION_TASKS = (1, 6, 11)
"""the meta-training failures of the link-state prior's validation (indices into ``meta_tasks``; B4: A–B, E–H, G–K)"""
VALIDATION_SEEDS = tuple(range(2000, 2010))
METRICS = ("delivery_time", "sojourn_time", "throughput", "packets_lost", "delivered", "generated", "backlog")


def load_points(w_star: float) -> list[tuple[float, float, bool]]:
    """``(ρ, λ, is the paper's λ)`` of the sweep on a network whose capacity-optimal routing has busiest unit
    load ``w_star``.

    >>> [(round(r, 2), round(lam, 4), p) for r, lam, p in load_points(4.0)[:2]]
    [(0.05, 0.0125, False), (0.1, 0.025, False)]
    >>> load_points(4.0)[-1]
    (2.0, 0.5, True)
    """
    pts = [(rho, rho / w_star, False) for rho in RHOS] + [(PAPER_LOAD * w_star, PAPER_LOAD, True)]
    return sorted(pts)


def frozen_episode(learner: RouterLearner, env, seed: int) -> dict:
    """One test episode of a frozen learner, its action generator seeded by the test seed."""
    learner.rng = np.random.default_rng(seed)
    return learner.run(env, seed, learn=False)


def learner_from(state: dict, cfg: dict, env) -> RouterLearner:
    """A learner with trained weights ``state`` and config ``cfg`` (a dict of :class:`MAMRLConfig`)."""
    c = MAMRLConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    policy = make_policy(env, c)
    policy.load_state_dict(state)
    return RouterLearner(env, c, policy)


def train_prior(name: str, minutes: float, quick: bool, loads: tuple[float, float], log=print) -> dict:
    """``mamrl-prior``: MAMRL's MAML (the same iterations and online episodes as ``train_learners``) on policies
    that are residuals on the minimum-delay routing for the measured rate (``MAMRLConfig.prior``), from fresh
    weights (a fresh residual follows the prior, so there is no imitation step)."""
    topo = load_topology(name)
    cfg = MAMRLConfig(seed=0, prior=True, **MAMRL_CONFIG, loads=tuple(loads))
    t0 = time.perf_counter()

    def make_env(task=()):
        return RoutingParallelEnv(topo, horizon=cfg.horizon, failed_links=task)

    policy, hist = meta_train(
        make_env,
        meta_tasks(topo),
        cfg,
        3 if quick else 300,
        time_limit_s=60 * minutes * 0.4,
        log=lambda s: log(f"[{name}] prior {s}"),
        progress=True,
    )
    learner = RouterLearner(make_env(), cfg, policy)
    learner, _ = train_online(make_env, cfg, 4 if quick else 100, learner=learner, seed_base=30_000, progress=True)
    return {
        "state": learner.policy.state_dict(),
        "cfg": asdict(cfg),
        "training": {
            "meta_iterations": len(hist),
            "meta_episodes": 2 * cfg.meta_batch * len(hist),
            "online_episodes": 4 if quick else 100,
            "train_wall_s": round(time.perf_counter() - t0, 1),
        },
    }


def trained_learners(name: str, run_dir: Path, minutes: float, quick: bool, retrain: bool) -> tuple[dict, dict]:
    """``({learner name: learner}, training summary)`` of ``LEARNERS``, trained with loads from ``TRAIN_RHO``
    (saved to ``run_dir/learners.pt``; the ones there are reused unless ``retrain``)."""
    topo = load_topology(name)
    path = run_dir / "learners.pt"
    state = torch.load(path, weights_only=True) if path.exists() and not retrain else {"cfg": {}, "training": {}}
    w = min_max_unit_load(topo)
    loads = (TRAIN_RHO[0] / w, TRAIN_RHO[1] / w)
    changed = False
    if "mamrl" not in state or "pg" not in state:
        t = train_learners(name, minutes, quick, loads=loads)
        state |= {"mamrl": t["mamrl"].policy.state_dict(), "pg": t["pg"].policy.state_dict()}
        state["cfg"] |= {"mamrl": asdict(t["cfg"]), "pg": asdict(t["pg_cfg"])}
        state["training"] |= t["training"] | {"train_utilisation": list(TRAIN_RHO)}
        changed = True
    if "mamrl-prior" not in state:
        t = train_prior(name, minutes, quick, loads)
        state["mamrl-prior"] = t["state"]
        state["cfg"]["mamrl-prior"] = t["cfg"]
        state["training"]["mamrl-prior"] = t["training"]
        changed = True
    if changed:
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)
    env = RoutingParallelEnv(topo, horizon=HORIZON)
    learners = {k: learner_from(state[k], state["cfg"][k], env) for k in LEARNERS}
    return learners, state["training"]


def _row(name: str, ctrl: str, rho: float, lam: float, paper: bool, ms: list[dict], ref: dict, seeds) -> dict:
    row = {"topology": name, "controller": ctrl, "experiment": "utilisation", "utilisation": round(rho, 4)}
    row |= {"load": round(lam, 6), "paper_load": paper}
    for k in METRICS:
        row[k] = round(float(np.nanmean([m[k] for m in ms])), 4)
    for base in ("spa", "balanced", "min-delay"):
        for k in ("delivery_time", "sojourn_time"):
            row[f"{k}_vs_{base}"] = round(row[k] / float(np.nanmean([m[k] for m in ref[base]])), 4)
    diff = np.array([m["sojourn_time"] for m in ms]) - np.array([m["sojourn_time"] for m in ref["spa"]])
    row["sojourn_minus_spa"] = round(float(diff.mean()), 4)
    row["sojourn_minus_spa_se"] = round(float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0, 4)
    row |= {"episodes": len(ms), "seeds": list(seeds), "horizon": HORIZON}
    return row


def run_topology(name: str, run_dir: Path, minutes: float, quick: bool, retrain: bool, log=print) -> dict:
    """Train (or reuse) the learners and sweep the utilisation on one topology; the record (``run_dir/record.json``)."""
    t0 = time.perf_counter()
    topo = load_topology(name)
    w = min_max_unit_load(topo)
    learners, training = trained_learners(name, run_dir, minutes, quick, retrain)
    seeds = SEEDS[:2] if quick else SEEDS
    points = load_points(w)
    if quick:
        points = [points[1], points[9], points[-1]]
    rows = []
    spa, balanced, rand = ShortestPath(topo), BalancedRouting(topo), RandomRouting()
    for rho, lam, paper in track(points, f"[{name}] utilisation sweep"):

        def env(lam=lam):
            return RoutingParallelEnv(topo, load=lam, horizon=HORIZON)

        res: dict[str, list[dict]] = {}
        min_delay = DelayRouting(topo, lam, (balanced.unit_load, balanced.split))
        static = {"spa": spa, "balanced": balanced, "min-delay": min_delay, "random": rand}
        for ctrl, c in static.items():
            res[ctrl] = [run_episode(c, env(), s).metrics for s in seeds]
        q = QRouting(topo)
        for k in range(1 if quick else Q_WARMUP):
            run_episode(q, env(), 50_000 + k)
        res["q-routing"] = [run_episode(q, env(), s).metrics for s in seeds]
        for ctrl in LEARNERS:
            res[ctrl] = [frozen_episode(learners[ctrl], env(), s) for s in seeds]
        rows += [_row(name, c, rho, lam, paper, res[c], res, seeds) for c in CONTROLLERS]
        log(
            f"[{name}] ρ {rho:.2f} (λ {lam:.4f}): sojourn "
            + ", ".join(f"{c} {np.mean([m['sojourn_time'] for m in res[c]]):.1f}" for c in CONTROLLERS)
        )
    record = {
        "topology": name,
        "unit_load": w,
        "rows": rows,
        "training": training,
        "wall_s": round(time.perf_counter() - t0, 1),
        "quick": quick,
    }
    atomic_write_text(run_dir / "record.json", json.dumps(record, indent=1))
    return record


def adapted_after(ms: list[dict], pre: dict) -> int | None:
    """Smallest ``k`` with episodes ``k+1 .. k+WINDOW`` back within ``1 + TOL_DELAY`` of a pre-failure delivery
    time ``pre["delivery_time"]`` and losing at most ``pre["packets_lost"]`` + ``TOL_LOSS`` of the packets generated
    (``benchmarks/routing.py``'s ``adapt_episodes``; the same rule and episode unit for every learner).

    >>> pre = {"delivery_time": 10.0, "packets_lost": 0.0}
    >>> eps = [(30, 9), (14, 1)] + [(10.5, 0)] * 5
    >>> ms = [{"delivery_time": d, "packets_lost": lo, "generated": 100} for d, lo in eps]
    >>> adapted_after(ms, pre)
    2
    """
    d, lo, g = ([m[k] for m in ms] for k in ("delivery_time", "packets_lost", "generated"))
    return adapt_episodes(d, lo, g, pre["delivery_time"], pre["packets_lost"])


def pre_level(ms: list[dict]) -> dict:
    """The pre-failure level of a controller's episodes: mean delivery time and packets lost."""
    return {k: float(np.nanmean([m[k] for m in ms])) for k in ("delivery_time", "packets_lost")}


def online(learner: RouterLearner, make_env, seeds: list[int], scenario: int) -> list[dict]:
    """The online episodes of a learner after a failure (one update after each, a fresh ``make_env()`` each), its
    action generator seeded by the scenario's index: their metrics."""
    learner.rng = np.random.default_rng(scenario)
    return [learner.run(make_env(), s) for s in seeds]


def failure_record(name: str, run_dir: Path, quick: bool, log=print) -> dict:
    """The link-failure experiment at ``FAIL_RHO`` on every failure scenario of the topology file (none of them a
    meta-training task): each learner's pre-failure level (``PRE_EPISODES`` frozen episodes on the intact network),
    then ``FAIL_EPISODES`` online episodes on the failed one, one update after each (``q-routing`` from its table
    after ``Q_WARMUP`` episodes on the intact network; ``random-init``: MAMRL's learner from random weights, no
    prior). The judged learner runs on the environment's link-state prior (``link_state=True``), ``STATIC_PRIOR``
    is the same weights on the prior that ignores failures, ``PRIOR`` the link-state prior without a learner.
    ``adapt_episodes``: :func:`adapted_after` with the *judged learner's* pre-failure level as the target of
    every learner (one target, so that the counts compare; a learner's own level would let one that was poor
    before the failure adapt at once); ``adapt_episodes_own_level``: with its own level. Written to
    ``run_dir/failure.json``."""
    t0 = time.perf_counter()
    topo = load_topology(name)
    w = min_max_unit_load(topo)
    lam = FAIL_RHO / w
    state = torch.load(run_dir / "learners.pt", weights_only=True)
    episodes = 8 if quick else FAIL_EPISODES
    scenarios = list(topo.failure_scenarios)[: 1 if quick else None]

    def env(task=(), link_state=False):
        return RoutingParallelEnv(topo, load=lam, horizon=FAIL_HORIZON, failed_links=task, link_state=link_state)

    rows, curves = [], {}
    for si, task in enumerate(track(scenarios, f"[{name}] link failures at ρ {FAIL_RHO}")):
        pre_seeds = [61_000 + 100 * si + k for k in range(2 if quick else PRE_EPISODES)]
        seeds = [62_000 + 1000 * si + k for k in range(episodes)]
        learners = {k: learner_from(state[k], state["cfg"][k], env()) for k in LEARNERS}
        learners[STATIC_PRIOR] = learner_from(state[JUDGED], state["cfg"][JUDGED], env())
        learners["random-init"] = RouterLearner(env(), MAMRLConfig(seed=2, **MAMRL_CONFIG))
        runs, pre = {}, {}
        for label, lrn in learners.items():
            pre[label] = [frozen_episode(lrn, env(), s) for s in pre_seeds]
            runs[label] = online(lrn, partial(env, task, label == JUDGED), seeds, si)
        prior = PriorRouting()  # the judged learner's prior alone: no learning
        pre[PRIOR] = [run_episode(prior, env(), s).metrics for s in pre_seeds]
        runs[PRIOR] = [run_episode(prior, env(task, True), s).metrics for s in seeds]
        q = QRouting(topo)
        for k in range(1 if quick else Q_WARMUP):
            run_episode(q, env(), 50_000 + k)
        pre["q-routing"] = [run_episode(q, env(), s).metrics for s in pre_seeds]
        runs["q-routing"] = [run_episode(q, env(task), s).metrics for s in seeds]
        spa = ShortestPath(topo)
        pre["spa"] = [run_episode(spa, env(), s).metrics for s in pre_seeds]
        runs["spa"] = [run_episode(spa, env(task), s).metrics for s in seeds]
        # what is reachable at all after the failure: the minimum-delay routing re-planned on the failed network
        replanned = DelayRouting(topo.with_failures(task), lam)
        pre[REPLANNED] = pre["spa"]
        runs[REPLANNED] = [run_episode(replanned, env(task), s).metrics for s in seeds]
        level = {c: pre_level(ms) for c, ms in pre.items()}
        for label, ms in runs.items():
            ref = level[label]
            static = label in ("spa", REPLANNED)
            k = None if static else adapted_after(ms, level[JUDGED])
            own = None if static else adapted_after(ms, ref)
            rows.append(
                {
                    "topology": name,
                    "controller": label,
                    "experiment": "utilisation_failure",
                    "utilisation": FAIL_RHO,
                    "load": round(lam, 6),
                    "scenario": topo.link_names(task),
                    "adapt_episodes": k,
                    "adapt_episodes_own_level": own,
                    "target_delivery_time": round((1 + TOL_DELAY) * level[JUDGED]["delivery_time"], 3),
                    "pre_delivery_time": round(ref["delivery_time"], 3),
                    "pre_packets_lost": ref["packets_lost"],
                    "first_delivery_time": round(ms[0]["delivery_time"], 3),
                    "first_packets_lost": ms[0]["packets_lost"],
                    "final_delivery_time": round(float(np.nanmean([m["delivery_time"] for m in ms[-5:]])), 3),
                    "final_packets_lost": float(np.mean([m["packets_lost"] for m in ms[-5:]])),
                    "episodes": episodes,
                    "horizon": FAIL_HORIZON,
                }
            )
            curves.setdefault(f"scenario{si}", {})[label] = {
                "delivery_time": [m["delivery_time"] for m in ms],
                "packets_lost": [m["packets_lost"] for m in ms],
            }
        log(
            f"[{name}] failure {topo.link_names(task)}: adapted after "
            + ", ".join(f"{r['controller']} {r['adapt_episodes']}" for r in rows[-len(runs) :])
        )
    record = {"topology": name, "rows": rows, "curves": curves, "wall_s": round(time.perf_counter() - t0, 1)}
    atomic_write_text(run_dir / "failure.json", json.dumps(record, indent=1))
    return record


def validate_failures(name: str, run_dir: Path, quick: bool, log=print) -> dict:
    """The validation of the link-state prior (docs/development-log.md, written before its numbers): the judged
    learner's weights with the static prior and with the link-state one (``RoutingParallelEnv(link_state=True)``)
    on the meta-training failures ``VALIDATION_TASKS`` of ``meta_tasks``, by the test failures' protocol on seeds
    90000.. (one target: 1.1 x the static learner's pre-failure delivery time), and the light-load delivery time
    of the link-state learner against SPA's on validation seeds ``VALIDATION_SEEDS``. Written to
    ``run_dir/failure_validation.json``."""
    t0 = time.perf_counter()
    topo = load_topology(name)
    lam = FAIL_RHO / min_max_unit_load(topo)
    state = torch.load(run_dir / "learners.pt", weights_only=True)
    episodes = 8 if quick else FAIL_EPISODES
    tasks = [meta_tasks(topo)[i] for i in VALIDATION_TASKS[: 1 if quick else None]]

    def env(task=(), link_state=False, load=lam, horizon=FAIL_HORIZON):
        return RoutingParallelEnv(topo, load=load, horizon=horizon, failed_links=task, link_state=link_state)

    def learner():
        return learner_from(state[JUDGED], state["cfg"][JUDGED], env())

    scenarios = []
    for si, task in enumerate(track(tasks, f"[{name}] validation failures at ρ {FAIL_RHO}")):
        pre_seeds = [90_000 + 100 * si + k for k in range(2 if quick else PRE_EPISODES)]
        seeds = [91_000 + 1000 * si + k for k in range(episodes)]
        pre = [frozen_episode(learner(), env(), s) for s in pre_seeds]
        level = pre_level(pre)
        out = {
            "scenario": topo.link_names(task),
            "target_delivery_time": round((1 + TOL_DELAY) * level["delivery_time"], 3),
        }
        for variant, link_state in (("static", False), ("link-state", True)):
            ms = online(learner(), partial(env, task, link_state), seeds, si)
            out[variant] = {
                "adapt_episodes": adapted_after(ms, level),
                "first_packets_lost": ms[0]["packets_lost"],
                "final_delivery_time": round(float(np.nanmean([m["delivery_time"] for m in ms[-5:]])), 3),
            }
        scenarios.append(out)
        log(
            f"[{name}] validation {out['scenario']}: static {out['static']['adapt_episodes']}, "
            f"link-state {out['link-state']['adapt_episodes']}"
        )
    light = {}
    seeds = VALIDATION_SEEDS[:2] if quick else VALIDATION_SEEDS
    spa, frozen = ShortestPath(topo), learner()
    for rho in (0.05, 0.1):
        load = rho * lam / FAIL_RHO
        spa_ms = [run_episode(spa, env(load=load, horizon=HORIZON), s).metrics for s in seeds]
        ls = [frozen_episode(frozen, env(link_state=True, load=load, horizon=HORIZON), s) for s in seeds]
        light[str(rho)] = round(
            float(np.nanmean([m["delivery_time"] for m in ls]) / np.nanmean([m["delivery_time"] for m in spa_ms])), 4
        )
    record = {
        "topology": name,
        "scenarios": scenarios,
        "light_delivery_time_vs_spa": light,
        "episodes": episodes,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    atomic_write_text(run_dir / "failure_validation.json", json.dumps(record, indent=1))
    return record


def validation_decision(records: list[dict]) -> dict:
    """The rule of docs/development-log.md on the validation records: adopt the link-state prior if the median
    episodes to adapt falls (not adapted within the run counts as one more than its episodes) and the light-load
    delivery time stays <= 1.02 x SPA's on every network.

    >>> rec = {"episodes": 60, "light_delivery_time_vs_spa": {"0.05": 1.0, "0.1": 1.01}, "scenarios": [
    ...     {"static": {"adapt_episodes": None}, "link-state": {"adapt_episodes": 3}},
    ...     {"static": {"adapt_episodes": 9}, "link-state": {"adapt_episodes": 0}}]}
    >>> validation_decision([rec])["adopt"]
    True
    """
    median = {}
    for variant in ("static", "link-state"):
        ks = [
            rec["episodes"] + 1 if sc[variant]["adapt_episodes"] is None else sc[variant]["adapt_episodes"]
            for rec in records
            for sc in rec["scenarios"]
        ]
        median[variant] = float(np.median(ks))
    light_ok = all(v <= 1.02 for rec in records for v in rec["light_delivery_time_vs_spa"].values())
    return {
        "median_adapt_episodes": median,
        "light_delivery_time_ok": light_ok,
        "adopt": median["link-state"] < median["static"] and light_ok,
    }


def failure_bars(rows: list[dict], learner: str = JUDGED) -> dict:
    """Issue 23's failure bar per topology: ``learner`` adapted in <= 20 episodes in every scenario, and in fewer
    than ``random-init`` and ``q-routing`` there (not adapted within the run counts as more). Beside it, per
    scenario, whether the target can be reached at all: the re-planned minimum-delay routing's last episodes at
    or below it."""
    out = {}
    never = 10**9
    for name in sorted({r["topology"] for r in rows}):
        mine = [r for r in rows if r["topology"] == name]
        by: dict[str, list] = {}
        for r in mine:
            by.setdefault(r["controller"], []).append(r["adapt_episodes"])
        k_of = {c: [never if k is None else k for k in ks] for c, ks in by.items()}
        judged = k_of.get(learner, [])
        rivals = list(zip(k_of.get("random-init", []), k_of.get("q-routing", [])))
        met = bool(judged) and len(rivals) == len(judged)
        met = met and all(k <= 20 and k < min(r) for k, r in zip(judged, rivals))
        out[name] = {f"{c}_adapt_episodes": ks for c, ks in by.items() if c not in ("spa", REPLANNED)} | {
            "target_reachable_by_replanned_routing": [
                r["final_delivery_time"] <= r["target_delivery_time"] for r in mine if r["controller"] == REPLANNED
            ],
            "met": met,
        }
    return out


def bars(rows: list[dict], learner: str = JUDGED) -> dict:
    """Issue 23's load bars per topology (module docstring) for ``learner`` from the sweep's rows."""
    out = {}
    for name in sorted({r["topology"] for r in rows}):
        at = {(r["controller"], r["utilisation"]): r for r in rows if r["topology"] == name}
        b = {}
        if (learner, 0.9) in at:
            m, pg = at[(learner, 0.9)], at[("pg", 0.9)]
            for k in ("delivery_time", "sojourn_time"):
                b[f"rho_0.9_{k}_vs_spa"] = m[f"{k}_vs_spa"]
                b[f"rho_0.9_{k}_vs_balanced"] = m[f"{k}_vs_balanced"]
                b[f"rho_0.9_{k}_vs_pg"] = round(m[k] / pg[k], 4)
            b["rho_0.9_met"] = all(
                b[f"rho_0.9_{k}_vs_spa"] <= 0.6
                and b[f"rho_0.9_{k}_vs_balanced"] <= 1.2
                and b[f"rho_0.9_{k}_vs_pg"] <= 1
                for k in ("delivery_time", "sojourn_time")
            )
        light = [r for (c, rho), r in at.items() if c == learner and rho <= 0.1]
        if light:
            b["light_delivery_time_vs_spa"] = {str(r["utilisation"]): r["delivery_time_vs_spa"] for r in light}
            b["light_met"] = all(r["delivery_time_vs_spa"] <= 1.02 for r in light)
        out[name] = b
    return out


def plot(records: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (
        ("delivery_time", "delivery time (ticks)"),
        ("sojourn_time", "sojourn time (ticks per packet)"),
        ("throughput", "throughput (delivered per tick)"),
        ("packets_lost", "packets lost per episode"),
    )
    colors = {
        "spa": "k",
        "balanced": "C7",
        "min-delay": "C2",
        "random": "C8",
        "q-routing": "C0",
        "pg": "C1",
        "mamrl": "C4",
        "mamrl-prior": "C3",
    }
    fig, axes = plt.subplots(len(keys), len(records), figsize=(5 * len(records), 3.2 * len(keys)), squeeze=False)
    for j, rec in enumerate(records):
        for i, (key, label) in enumerate(keys):
            ax = axes[i, j]
            for ctrl in CONTROLLERS:
                rows = sorted((r for r in rec["rows"] if r["controller"] == ctrl), key=lambda r: r["utilisation"])
                ax.plot(
                    [r["utilisation"] for r in rows], [r[key] for r in rows], "o-", ms=3, color=colors[ctrl], label=ctrl
                )
            paper = next(r["utilisation"] for r in rec["rows"] if r["paper_load"])
            ax.axvline(paper, color="grey", ls=":", lw=1)
            ax.axvline(1.0, color="grey", ls="--", lw=0.8)
            ax.set_title(f"{rec['topology']}: {label.split(' (')[0]} (dotted: λ = {PAPER_LOAD})", fontsize=9)
            ax.set_xlabel("utilisation ρ = λ w*")
            ax.set_ylabel(label)
            if key in ("delivery_time", "sojourn_time"):
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            if i == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def run(
    out: Path = Path("results"),
    runs: Path = Path("runs/bench"),
    topologies=TOPOLOGIES,
    minutes: float = 10.0,
    quick: bool = False,
    retrain: bool = False,
    train_only: bool = False,
    command: str | None = None,
    resweep: bool = False,
    validate: bool = False,
) -> dict | None:
    records, failures, validation = [], [], []
    for name in topologies:
        run_dir = Path(runs) / ("routing_utilisation-quick" if quick else "routing_utilisation") / name
        vpath = run_dir / "failure_validation.json"
        if validate:
            if not (run_dir / "learners.pt").exists():
                run_topology(name, run_dir, minutes, quick, retrain)
            validation.append(validate_failures(name, run_dir, quick))
            continue
        if vpath.exists():
            validation.append(json.loads(vpath.read_text()))
        path = run_dir / "record.json"
        if path.exists() and not (retrain or resweep):
            print(f"[{name}] reusing {path}")
            records.append(json.loads(path.read_text()))
        else:
            records.append(run_topology(name, run_dir, minutes, quick, retrain))
        fpath = run_dir / "failure.json"
        if fpath.exists() and not (retrain or resweep):
            failures.append(json.loads(fpath.read_text()))
        else:
            failures.append(failure_record(name, run_dir, quick))
    if validate:
        decision = validation_decision(validation)
        print(json.dumps(decision, indent=1))
        return decision
    if train_only:
        return None
    fail_rows = [r for rec in failures for r in rec["rows"]]
    rows = [r for rec in records for r in rec["rows"]]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / ("routing-utilisation-quick.json" if quick else "routing.json")
    doc = json.loads(target.read_text()) if target.exists() else {"benchmark": "routing", "rows": []}
    mine = ("utilisation", "utilisation_failure")
    doc["rows"] = [r for r in doc["rows"] if r.get("experiment") not in mine] + rows + fail_rows
    doc["utilisation_run"] = {
        "command": command,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "unit_load": {rec["topology"]: round(rec["unit_load"], 4) for rec in records},
        "training": {rec["topology"]: rec["training"] for rec in records},
        "wall_s": {rec["topology"]: rec["wall_s"] for rec in records},
        "bars_learner": JUDGED,
        "bars": bars(rows),
        "bars_mamrl": bars(rows, "mamrl"),
        "failure_bars": failure_bars(fail_rows),
        "failure_bars_mamrl": failure_bars(fail_rows, "mamrl"),
        "failure_rule": adapted_after.__doc__.split(">>>")[0].strip(),
        "failure_wall_s": {rec["topology"]: rec["wall_s"] for rec in failures},
    }
    if len(validation) == len(records):
        doc["utilisation_run"]["failure_validation"] = {
            "records": validation,
            "decision": validation_decision(validation),
            "rule": validation_decision.__doc__.split(">>>")[0].strip(),
        }
    png = "routing_utilisation-quick.png" if quick else "routing_utilisation.png"
    doc["plots"] = sorted(set(doc.get("plots", [])) | {png})
    atomic_write_text(target, json.dumps(doc, indent=2) + "\n")
    plot(records, out / png)
    print(json.dumps({k: doc["utilisation_run"][k] for k in ("bars", "failure_bars")}, indent=1))
    return doc


if __name__ == "__main__":
    torch.set_num_threads(1)
    p = parser(__doc__)
    p.add_argument("--resweep", action="store_true", help="sweep again with the saved learners (learners.pt)")
    p.add_argument(
        "--validate-failures",
        action="store_true",
        help="the link-state prior's validation on meta-training failures (docs/development-log.md)",
    )
    a = p.parse_args()
    minutes = 10.0 if a.minutes is None else a.minutes
    run(
        a.out,
        a.runs,
        tuple(a.topologies),
        minutes,
        a.quick,
        a.retrain,
        a.train_only,
        command_line(),
        a.resweep,
        a.validate_failures,
    )
