"""Train the routing learners from the CLI: ``netctrl train routing/b4 --algo mamrl`` (or ``--algo pg``).

``mamrl``: imitation of the balanced routing of the intact topology (:func:`teacher_init`), then first-order
MAML from there over the topology's link-failure tasks (the intact network and every single-link failure that
keeps it connected, except the file's three failure scenarios, held out for testing), saved as
``meta_init.pt``; then online episodes on the intact network, saved as ``policy.pt``. ``pg``: the per-router
learner without consensus from random weights, ``policy.pt``. Checkpoints are plain state dicts written
atomically (:func:`netctrl.train.save_checkpoint`; load with :func:`load_router_policy`), next to
``config.json`` and ``metrics.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ...algos.mamrl import (
    MAMRLConfig,
    RouterLearner,
    clone_state,
    imitate,
    meta_train,
    teacher_episode,
    train_online,
)
from ...errors import CheckpointError, ConfigError
from ...policies.router import RouterPolicies
from ...train import atomic_write_text, load_checkpoint, save_checkpoint
from .baselines import BalancedRouting
from .scenario import load_topology
from .sim import PacketSim

ALGOS = ("mamrl", "pg")
#: MAMRL's settings where they differ from :class:`MAMRLConfig`'s defaults: meta-training starts from the
#: imitation of the balanced routing (:func:`teacher_init`), which Adam's outer steps at the online step size
#: (1e-2) walked away from (B4, 3 min of MAML, validation seeds: 0.41x SPA's delivery time at load 0.3 before,
#: 0.82x after; 0.48x with 1e-3), and a smaller entropy bonus keeps the teacher's choices
MAMRL_CONFIG = {"meta_lr": 1e-3, "entropy": 0.01}
#: the imitation target mixes the teacher's next hops with a uniform choice: a policy that is not one-hot
#: keeps a policy gradient, so a router next to a failed link moves off it within a few episodes
TEACHER_SMOOTH = 0.05


def meta_tasks(topo) -> list[tuple]:
    """The intact network and every connected single-link failure except the file's test scenarios."""
    test = set(topo.failure_scenarios)
    return [()] + [(lk,) for lk in range(topo.num_links) if (lk,) not in test and topo.surviving_connected((lk,))]


def teacher_init(topo, cfg: MAMRLConfig, episodes: int = 20, epochs: int = 30, smooth: float = TEACHER_SMOOTH,
                 seed_base: int = 70_000, log=None) -> dict:
    """Initial weights of the per-router policies imitating :class:`BalancedRouting` of the intact topology
    (static knowledge, as SPA's): ``episodes`` teacher episodes at loads drawn from ``cfg.loads``, every
    decision labelled with the teacher's next-hop distribution mixed with a uniform one (weight ``smooth``),
    fitted by cross-entropy (:func:`imitate`)."""
    teacher = BalancedRouting(topo)
    rng = np.random.default_rng(cfg.seed + 13)
    sim = PacketSim(topo, cfg.loads[1], cfg.seed)
    data = []
    for k in range(episodes):
        sim.load = float(rng.uniform(*cfg.loads))
        data.append(teacher_episode(sim, lambda obs, _sim: teacher.probs(obs), cfg.horizon, seed_base + k))
    valid = (topo.out_arcs >= 0) / topo.degree[:, None]                     # (N, D) uniform over the links
    obs, target, mask = (np.concatenate(parts) for parts in zip(*data))
    torch.manual_seed(cfg.seed)
    policy = RouterPolicies(topo.num_nodes, topo.degree, sim.history, cfg.hidden, cfg.layers)
    target = (1 - smooth) * target + smooth * valid[None]
    target = np.pad(target, ((0, 0), (0, 0), (0, policy.d - target.shape[2])))
    hist = imitate(policy, obs, target, mask, epochs=epochs, seed=cfg.seed)
    if log:
        log(f"imitation of the balanced routing: {int(mask.sum())} decisions, KL {hist[0]:.3f} -> {hist[-1]:.3f}")
    return clone_state(policy)


def train_routing(topology: str, algo: str = "mamrl", run_dir: Path | str = "runs/routing", seed: int = 0,
                  episodes: int = 300, meta_iterations: int = 300, time_limit_s: float | None = None,
                  **overrides) -> dict:
    """Train and checkpoint; returns a summary dict (also in ``run_dir/summary.json``)."""
    if algo not in ALGOS:
        raise ConfigError(f"'algo' for routing must be one of {ALGOS} (got {algo!r})")
    topo = load_topology(topology)
    settings = {**MAMRL_CONFIG, **overrides} if algo == "mamrl" else overrides
    cfg = MAMRLConfig(seed=seed, consensus=(algo == "mamrl"), **settings)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps({"topology": topo.name, "algo": algo, **asdict(cfg)}, indent=2))

    def make_sim(task, load, s):
        return PacketSim(topo.with_failures(task), load, s)

    def policy_config():
        return {"num_nodes": topo.num_nodes, "degree": [int(d) for d in topo.degree], "history": 5,
                "hidden": cfg.hidden, "layers": cfg.layers}

    lines = []
    summary = {"topology": topo.name, "algo": algo, "seed": seed}
    learner = None
    if algo == "mamrl":
        limit = None if time_limit_s is None else 0.7 * time_limit_s
        init = teacher_init(topo, cfg, log=print)
        policy, hist = meta_train(make_sim, meta_tasks(topo), cfg, meta_iterations, time_limit_s=limit, log=print,
                                  init=init)
        save_checkpoint(run_dir / "meta_init.pt", {"model": policy.state_dict(), "policy_config": policy_config()})
        lines += [json.dumps({"phase": "meta", **h}) for h in hist]
        summary["meta_iterations"] = len(hist)
        learner = RouterLearner(make_sim((), cfg.loads[1], seed), cfg)
        learner.reset_to(policy.state_dict())
    limit = None if time_limit_s is None else (0.3 if algo == "mamrl" else 1.0) * time_limit_s
    learner, hist = train_online(make_sim, cfg, episodes, learner=learner, time_limit_s=limit, log=print)
    save_checkpoint(run_dir / "policy.pt", {"model": learner.policy.state_dict(), "policy_config": policy_config()})
    lines += [json.dumps({"phase": "online", **h}) for h in hist]
    atomic_write_text(run_dir / "metrics.jsonl", "\n".join(lines) + "\n")
    summary.update(online_episodes=len(hist), last_delivery_time=hist[-1]["delivery_time"] if hist else None,
                   run_dir=str(run_dir))
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    return summary


def load_router_policy(path: Path | str) -> RouterPolicies:
    """A :class:`RouterPolicies` from ``policy.pt`` / ``meta_init.pt`` (``weights_only`` load)."""
    ckpt = load_checkpoint(Path(path))
    try:
        pol = RouterPolicies(**ckpt["policy_config"])
        pol.load_state_dict(ckpt["model"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not match the stored policy config ({str(exc)[:200]})") from exc
    return pol


__all__ = ["ALGOS", "MAMRL_CONFIG", "TEACHER_SMOOTH", "meta_tasks", "teacher_init", "train_routing",
           "load_router_policy"]
