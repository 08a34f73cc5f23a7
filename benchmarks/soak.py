"""Soak: long evaluation runs with memory measured as they go, to catch leaks in the hot-started LP models and
the simulators (issue 20).

    python benchmarks/soak.py                       # -> results/soak.json (about 20 minutes on one core)
    python benchmarks/soak.py --quick               # a smoke run (100 + 1,000 episodes), not a result

Runs, each in one environment kept for the whole run (as a long-lived evaluation service would keep it):

* ``mobility/nyc_brooklyn``, 1,000 episodes (seeds 0-999) of the bi-level agent (a freshly initialised policy,
  deterministic, through the hot-started rebalancing LP) and 1,000 of the oracle MPC (its own time-expanded
  LP, rebuilt bounds every step);
* ``routing/b4``, 10,000 episodes (300 ticks each, seeds 0-9,999) of shortest-path routing and of Q-routing
  (an online learner: its table is updated on every packet) on the PettingZoo environment.

Memory is the process's resident set size (``VmRSS`` of ``/proc/self/status``) after a ``gc.collect()``,
read every tenth of the run. Episode results are reduced to their reward as they come (no list of infos
grows). The bar: growth of at most 5 % between the tenth (episode 100 of 1,000; 1,000 of 10,000) and the last
reading; ``rss_growth_pct`` in each row.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np
from common import proc_status_mb, write_results

from netctrl.controllers import run_episode
from netctrl.policies.actor_critic import PolicyController
from netctrl.recipes.bilevel import init_policy, make_training_env
from netctrl.registry import get_problem, get_recipe
from netctrl.train import configure_threads

BAR_PCT = 5.0


def rss_mb() -> float:
    gc.collect()
    now = proc_status_mb("VmRSS")
    if now is not None:
        return now
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # peak, where /proc is missing


def soak(problem: str, name: str, controller, env, episodes: int) -> dict:
    readings, rewards = [], []
    every = max(1, episodes // 10)
    t0 = time.perf_counter()
    for ep in range(episodes):
        rewards.append(run_episode(controller, env, seed=ep).reward)
        if (ep + 1) % every == 0:
            readings.append(
                {
                    "episode": ep + 1,
                    "rss_mb": round(rss_mb(), 1),
                    "objects": len(gc.get_objects()),
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
            )
            print(
                f"[{problem} {name}] episode {ep + 1}: {readings[-1]['rss_mb']} MB, {readings[-1]['objects']} objects"
            )
    env.close()
    first, last = readings[0], readings[-1]
    growth = 100.0 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"]
    return {
        "scenario": problem,
        "controller": name,
        "episodes": episodes,
        "seeds": [0, episodes - 1],
        "reward_mean": round(float(np.mean(rewards)), 4),
        "reward_std": round(float(np.std(rewards)), 4),
        "rss_mb_start": first["rss_mb"],
        "rss_mb_end": last["rss_mb"],
        "rss_growth_pct": round(growth, 2),
        "measured_from_episode": first["episode"],
        "objects_start": first["objects"],
        "objects_end": last["objects"],
        "wall_s": last["wall_s"],
        "meets_bar": bool(growth <= BAR_PCT),
        "readings": readings,
    }


def run(out: Path, quick: bool) -> dict:
    configure_threads(1)
    rows = []
    n_mob, n_route = (100, 1000) if quick else (1000, 10_000)

    spec = get_problem("mobility/nyc_brooklyn")
    factory = make_training_env(spec, "lp")
    model = init_policy(factory, get_recipe("bilevel-ppo").make_config(spec).policy, seed=0)
    rows.append(
        soak(
            spec.name,
            "bilevel (policy + LP)",
            PolicyController(model, lower="lp", deterministic=True),
            factory(),
            n_mob,
        )
    )
    oracle = spec.baselines(0)["oracle"]
    rows.append(soak(spec.name, "oracle", oracle, spec.make_env(), n_mob))

    spec = get_problem("routing/b4")
    for name in ("spa", "q-routing"):
        rows.append(soak(spec.name, name, spec.baselines(0)[name], spec.make_env(), n_route))

    speed = {
        f"episodes_per_s_{r['scenario'].split('/')[1]}_{r['controller'].split()[0]}": round(
            r["episodes"] / max(r["wall_s"], 1e-9), 2
        )
        for r in rows
    }
    doc = write_results(
        out / "soak.json",
        "soak",
        rows,
        speed,
        quick=quick,
        notes=f"rss_growth_pct = 100 (RSS at the last reading - RSS at the tenth of the run) / RSS "
        f"at the tenth; bar <= {BAR_PCT} %; one process, one torch thread; each run keeps one "
        "environment for all its episodes",
    )
    for r in rows:
        print(
            f"{r['scenario']:24s} {r['controller']:22s} {r['episodes']:6d} episodes  "
            f"{r['rss_mb_start']:.1f} -> {r['rss_mb_end']:.1f} MB ({r['rss_growth_pct']:+.2f} %)"
        )
    return doc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("results"))
    p.add_argument("--quick", action="store_true", help="100 + 1,000 episodes: a smoke run, not a result")
    a = p.parse_args()
    run(a.out, a.quick)
