"""The reference study's actor-critic ("A2C" in its code), as it actually trains.

Gammelli et al. (ICML 2023) call their algorithm A2C; in their code it is Monte-Carlo REINFORCE with a learned
baseline (``mobility/src/algos/a2c_gnn.py``, ``supplychain/src/algos/a2c_gnn.py``):

* one update per episode, from the full-episode discounted returns ``R_t`` (no bootstrapping, no GAE);
* returns standardised per episode (mobility) or left raw (supply chain): ``normalize_returns``;
* advantage ``R_t - V(s_t)`` with ``V`` detached; actor loss ``-sum log pi(a_t|s_t) * A_t``; critic loss
  ``sum smooth_l1(V(s_t), R_t)``; separate Adam optimisers; optional gradient-norm clipping;
* no entropy bonus; the policy acts stochastically in training and with its mode at test time.

Deviations (each switchable back): ``num_envs`` episodes can be collected per update in lock-step (default 1,
the reference); the environments of update ``k`` are reset with seeds derived from ``(seed, k)`` so a resumed
run reproduces the uninterrupted one; the Dirichlet head is numerically safe (see
:class:`~netctrl.policies.heads.SafeDirichlet`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from ..errors import ConfigError, require_at_least
from ..policies.actor_critic import GraphActorCritic, obs_to_tensors
from ..train import EvalFn, RunTracker, TrainResult, configure_threads, episode_seeds, seed_everything


@dataclass(frozen=True)
class A2CConfig:
    """Hyper-parameters of :func:`train` (defaults: the reference mobility setting)."""

    seed: int = 0
    """drives initialisation, sampling and every environment reset."""
    episodes: int = 1000
    """number of updates (each on ``num_envs`` whole episodes)."""
    num_envs: int = 1
    """episodes per update (the reference uses 1)."""
    gamma: float = 0.97
    """discount factor."""
    actor_lr: float = 1e-3
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic."""
    normalize_returns: bool = True
    """standardise the returns of each episode (reference: mobility yes, supply chain no)."""
    max_grad_norm: float | None = None
    """gradient-norm clipping (reference: none for mobility, 5 for supply chain)."""
    eval_every: int = 100
    """updates between validation runs (0: never)."""
    checkpoint_every: int = 100
    """updates between ``last.pt`` writes."""
    time_limit_s: float | None = None
    """stop (and checkpoint) after this much wall time."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        if self.episodes <= 0 or self.num_envs <= 0:
            raise ConfigError(f"Expected 'episodes' and 'num_envs' > 0 (got {self.episodes}, {self.num_envs})")
        require_at_least(self, 1, "checkpoint_every")
        require_at_least(self, 0, "eval_every")
        require_at_least(self, 0, "actor_lr", "critic_lr", "max_grad_norm", "time_limit_s", strict=True)
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"Expected 'gamma' in [0, 1] (got {self.gamma})")


RESUMABLE_KEYS = ("episodes", "eval_every", "checkpoint_every", "time_limit_s")


def train(
    cfg: A2CConfig,
    make_env: Callable[[], gym.Env],
    policy: GraphActorCritic,
    *,
    run_dir: str | Path,
    eval_fn: EvalFn | None = None,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    metadata: dict | None = None,
    tensorboard: bool = False,
) -> TrainResult:
    """Train ``policy`` with the reference actor-critic on environments from ``make_env`` (``tensorboard``: the
    metrics also go to TensorBoard, ``run_dir/tensorboard/``)."""
    configure_threads(cfg.threads)
    seed_everything(cfg.seed)
    model = policy
    actor_params, critic_params = model.actor_parameters(), model.critic_parameters()
    actor_opt = torch.optim.Adam(actor_params, lr=cfg.actor_lr)
    critic_opt = torch.optim.Adam(critic_params, lr=cfg.critic_lr)
    config = {"algo": "a2c", **asdict(cfg), "policy": model.config_dict()}
    run = RunTracker(
        Path(run_dir),
        config,
        total=cfg.episodes,
        eval_fn=eval_fn,
        eval_every=cfg.eval_every,
        checkpoint_every=cfg.checkpoint_every,
        time_limit_s=cfg.time_limit_s,
        resume=resume,
        resume_keys=RESUMABLE_KEYS,
        progress=progress,
        verbose=verbose,
        title="A2C (reference actor-critic)",
        meta=metadata,
        tensorboard=tensorboard,
    )
    run.restore(model, actor_opt=actor_opt, critic_opt=critic_opt)
    n = cfg.num_envs
    envs = SyncVectorEnv([make_env for _ in range(n)], autoreset_mode=AutoresetMode.SAME_STEP)

    def payload() -> dict:
        return {"episodes": run.iterations * n, **run.snapshot(model, actor_opt=actor_opt, critic_opt=critic_opt)}

    try:
        for it in range(run.start, cfg.episodes):
            # ---------------------------------------------------------- one episode per environment
            obs, _ = envs.reset(seed=episode_seeds(cfg.seed, it, n))
            logps, values, rewards, alive = [], [], [], []
            running = np.ones(n, dtype=bool)
            while running.any():
                t_obs = obs_to_tensors(obs)
                dist = model.distribution(t_obs)
                a = dist.sample()
                logps.append(dist.log_prob(a))
                values.append(model.value(t_obs))
                obs, r, term, trunc, _ = envs.step(a.numpy())
                rewards.append(np.asarray(r, dtype=np.float64))
                alive.append(running.copy())
                running &= ~np.logical_or(term, trunc)
            T = len(rewards)
            mask = torch.as_tensor(np.array(alive), dtype=torch.float32)  # (T, n)
            R = np.zeros((T, n))
            acc = np.zeros(n)
            for t in reversed(range(T)):
                acc = rewards[t] + cfg.gamma * acc * mask[t].numpy()
                R[t] = acc
            ep_reward = float((np.array(rewards) * mask.numpy()).sum(0).mean())
            R_t = torch.as_tensor(R, dtype=torch.float32)
            if cfg.normalize_returns:
                m = mask.bool()
                mu, sd = R_t[m].mean(), R_t[m].std() if m.sum() > 1 else torch.tensor(1.0)
                R_t = (R_t - mu) / (sd + 1e-8)
            logp = torch.stack(logps)  # (T, n)
            V = torch.stack(values)
            adv = (R_t - V.detach()) * mask
            actor_loss = -(logp * adv).sum() / n
            critic_loss = (F.smooth_l1_loss(V, R_t, reduction="none") * mask).sum() / n
            actor_opt.zero_grad()
            critic_opt.zero_grad()
            (actor_loss + critic_loss).backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(actor_params, cfg.max_grad_norm)
                torch.nn.utils.clip_grad_norm_(critic_params, cfg.max_grad_norm)
            actor_opt.step()
            critic_opt.step()

            # ---------------------------------------------------------- logging, evaluation, checkpoints
            row = {
                "iteration": it + 1,
                "episodes": (it + 1) * n,
                "wall_s": round(run.elapsed(), 3),
                "train_reward": ep_reward,
                "actor_loss": float(actor_loss.detach()),
                "critic_loss": float(critic_loss.detach()),
            }
            if run.end_iteration(it, row, model, payload):
                break
    finally:
        run.close()
        envs.close()
    return run.result(model, run.iterations * n)
