"""PPO (Schulman et al. 2017, https://arxiv.org/abs/1707.06347) with vectorised environments, for graph
policies. One file, read top to bottom in CleanRL's order: config -> rollout storage -> rollout loop ->
advantage estimation (GAE) -> update -> logging.

Differences from CleanRL's ``ppo_continuous_action.py``, all deliberate:

* actor and critic are separate networks with separate Adam optimisers and learning rates (as in the
  reference bi-level study);
* every iteration starts by resetting the environments with seeds derived from ``(seed, iteration)``, so a
  run resumed from a checkpoint reproduces the uninterrupted one exactly;
* the policy's actions live wherever its distribution puts them (a simplex for a Dirichlet); there is no
  clipping to a Box, the lower level or the environment validates them;
* rewards are divided by a running standard deviation of the discounted return (CleanRL's
  ``NormalizeReward`` wrapper, done in the loop so that its state is checkpointed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from ..errors import ConfigError, require_at_least
from ..policies.actor_critic import GraphActorCritic, obs_to_tensors
from ..train import EvalFn, RunningMeanStd, RunTracker, TrainResult, configure_threads, episode_seeds, seed_everything


@dataclass(frozen=True)
class PPOConfig:
    """Hyper-parameters of :func:`train`."""

    seed: int = 0
    """drives the network initialisation, the action sampling and every environment reset."""
    iterations: int = 200
    """rollout + update cycles."""
    num_envs: int = 8
    """environments stepped in lock-step (one batched policy forward per step)."""
    rollout_steps: int = 20
    """steps per environment per iteration (a multiple of the episode length keeps episodes whole)."""
    gamma: float = 0.97
    """discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    advantage: str = "gae"
    """``gae`` (critic-based) or ``group``: discounted reward-to-go minus the leave-one-out mean of the other
    members of the environment's group at the same step (see ``group_size``)."""
    group_size: int = 1
    """environments reset with the same seed (common random numbers: same exogenous demand, own actions)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 1e-3
    """Adam learning rate of the critic."""
    anneal_lr: bool = True
    """decay both learning rates linearly to 0."""
    update_epochs: int = 4
    """passes over each rollout."""
    minibatch_size: int = 64
    """transitions per gradient step."""
    clip_coef: float = 0.2
    """PPO ratio clipping."""
    ent_coef: float = 0.0
    """entropy bonus."""
    max_grad_norm: float = 0.5
    """gradient-norm clipping (per network)."""
    normalize_rewards: bool = True
    """scale rewards by the running std of the discounted return."""
    norm_adv: bool = True
    """standardise advantages per minibatch."""
    target_kl: float | None = None
    """stop an iteration's epochs early above this approximate KL."""
    eval_every: int = 20
    """iterations between validation runs (0: never)."""
    checkpoint_every: int = 20
    """iterations between ``last.pt`` writes."""
    time_limit_s: float | None = None
    """stop (and checkpoint) after this much wall time."""
    threads: int = 1
    """torch intra-op threads."""
    workers: int = 0
    """Ray actors collecting the rollouts (``num_envs`` split between them; needs the ``ray`` extra); 0: in
    this process. Results are reproducible for a given number of workers, not across numbers."""

    def __post_init__(self) -> None:
        for name in ("iterations", "num_envs", "rollout_steps", "update_epochs", "minibatch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"Expected '{name}' > 0 (got {getattr(self, name)})")
        require_at_least(self, 1, "checkpoint_every", "threads")
        require_at_least(self, 0, "eval_every", "ent_coef", "max_grad_norm")
        require_at_least(self, 0, "actor_lr", "critic_lr", "time_limit_s", strict=True)
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"Expected 'gamma' in [0, 1] (got {self.gamma})")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ConfigError(f"Expected 'gae_lambda' in [0, 1] (got {self.gae_lambda})")
        if self.advantage not in ("gae", "group"):
            raise ConfigError(f"Expected 'advantage' in ('gae', 'group') (got {self.advantage!r})")
        if self.group_size < 1 or self.num_envs % self.group_size:
            raise ConfigError(f"'num_envs' ({self.num_envs}) must be a multiple of 'group_size' ({self.group_size})")
        if self.advantage == "group" and self.group_size < 2:
            raise ConfigError("advantage='group' needs 'group_size' >= 2")
        if self.workers < 0 or (self.workers and (self.num_envs // self.group_size) % self.workers):
            raise ConfigError(
                f"'workers' ({self.workers}) must divide the number of environment groups "
                f"(num_envs / group_size = {self.num_envs // self.group_size})"
            )
        if self.minibatch_size > self.num_envs * self.rollout_steps:
            raise ConfigError(
                f"'minibatch_size' ({self.minibatch_size}) exceeds the batch num_envs * rollout_steps "
                f"({self.num_envs * self.rollout_steps})"
            )

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.rollout_steps


RESUMABLE_KEYS = ("iterations", "eval_every", "checkpoint_every", "time_limit_s")


def gae(rewards, values, dones, next_value, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation over a ``(steps, envs)`` rollout; returns ``(advantages, returns)``.

    ``dones[s]`` marks an episode that ended at step ``s`` (no bootstrapping across it).
    """
    S = rewards.shape[0]
    adv = np.zeros_like(rewards, dtype=np.float32)
    last = np.zeros(rewards.shape[1], dtype=np.float32)
    for s in reversed(range(S)):
        nv = next_value if s == S - 1 else values[s + 1]
        nonterm = 1.0 - dones[s]
        delta = rewards[s] + gamma * nv * nonterm - values[s]
        last = delta + gamma * lam * nonterm * last
        adv[s] = last
    return adv, adv + values


def group_advantages(rewards, dones, next_value, gamma: float, group_size: int) -> np.ndarray:
    """Discounted reward-to-go minus the mean reward-to-go of the *other* members of each group at the same step.

    Environments ``k*g .. k*g+g-1`` form group ``k`` and share their exogenous randomness (same reset seed), so
    the baseline removes the demand's share of the return's variance and stays unbiased (it does not depend
    on the member's own actions).
    """
    S, n = rewards.shape
    togo = np.zeros((S, n), dtype=np.float32)
    acc = np.asarray(next_value, dtype=np.float32)
    for s in reversed(range(S)):
        acc = rewards[s] + gamma * (1.0 - dones[s]) * acc
        togo[s] = acc
    grouped = togo.reshape(S, n // group_size, group_size)
    others = (grouped.sum(-1, keepdims=True) - grouped) / (group_size - 1)
    return (grouped - others).reshape(S, n)


@dataclass
class Rollout:
    """``steps`` x ``envs`` transitions collected with the current policy, rewards not yet normalised."""

    obs: dict[str, np.ndarray]
    actions: np.ndarray
    logps: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    """raw environment rewards."""
    bootstrap: np.ndarray
    """critic value of the final observation where an episode was truncated (not terminated), else 0."""
    dones: np.ndarray
    next_value: np.ndarray
    episode_returns: list[float]

    @staticmethod
    def concat(parts: list[Rollout]) -> Rollout:
        """Join rollouts of disjoint environment sets along the environment axis (axis 1)."""
        cat = lambda xs: np.concatenate(xs, axis=1)
        return Rollout(
            obs={k: cat([p.obs[k] for p in parts]) for k in parts[0].obs},
            actions=cat([p.actions for p in parts]),
            logps=cat([p.logps for p in parts]),
            values=cat([p.values for p in parts]),
            rewards=cat([p.rewards for p in parts]),
            bootstrap=cat([p.bootstrap for p in parts]),
            dones=cat([p.dones for p in parts]),
            next_value=np.concatenate([p.next_value for p in parts]),
            episode_returns=[r for p in parts for r in p.episode_returns],
        )


def make_vector_env(make_env: Callable[[], gym.Env], num_envs: int) -> SyncVectorEnv:
    return SyncVectorEnv([make_env for _ in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP)


@torch.no_grad()
def collect_rollout(model: GraphActorCritic, envs: SyncVectorEnv, seeds: list[int], steps: int) -> Rollout:
    """Reset ``envs`` with ``seeds`` and step them ``steps`` times with actions sampled from ``model``."""
    n = envs.num_envs
    obs, _ = envs.reset(seed=list(seeds))
    act_shape = envs.single_action_space.shape
    obs_buf = {k: np.zeros((steps, *v.shape), dtype=v.dtype) for k, v in obs.items()}
    actions = np.zeros((steps, n, *act_shape), dtype=np.float32)
    logps, values, dones = (np.zeros((steps, n), dtype=np.float32) for _ in range(3))
    rewards, bootstrap = np.zeros((steps, n)), np.zeros((steps, n))
    ep_returns: list[float] = []
    ep_acc = np.zeros(n)
    for s in range(steps):
        for k, v in obs.items():
            obs_buf[k][s] = v
        a, logp, v = model.act(obs_to_tensors(obs))
        a_np = a.numpy()
        obs, r, term, trunc, info = envs.step(a_np)
        r = np.asarray(r, dtype=np.float64)
        ep_acc += r
        done = np.logical_or(term, trunc)
        if trunc.any() and "final_obs" in info:
            idx = np.flatnonzero(trunc & ~term)
            if idx.size:
                final = {k: np.stack([info["final_obs"][i][k] for i in idx]) for k in obs}
                bootstrap[s, idx] = model.value(obs_to_tensors(final)).numpy()
        for i in np.flatnonzero(done):
            ep_returns.append(float(ep_acc[i]))
            ep_acc[i] = 0.0
        actions[s], logps[s], values[s], rewards[s], dones[s] = a_np, logp.numpy(), v.numpy(), r, done
    next_value = model.value(obs_to_tensors(obs)).numpy()
    return Rollout(obs_buf, actions, logps, values, rewards, bootstrap, dones, next_value, ep_returns)


class LocalCollector:
    """Rollouts in this process, on a :class:`~gymnasium.vector.SyncVectorEnv` (one batched forward per step)."""

    def __init__(self, make_env: Callable[[], gym.Env], num_envs: int, steps: int) -> None:
        self.envs = make_vector_env(make_env, num_envs)
        self.steps = steps
        self.action_shape = self.envs.single_action_space.shape

    def collect(self, model: GraphActorCritic, seeds: list[int], iteration: int) -> Rollout:
        return collect_rollout(model, self.envs, seeds, self.steps)

    def close(self) -> None:
        self.envs.close()


def train(
    cfg: PPOConfig,
    make_env: Callable[[], gym.Env] | Sequence[Callable[[], gym.Env]],
    policy: GraphActorCritic,
    *,
    run_dir: str | Path,
    eval_fn: EvalFn | None = None,
    resume: bool = False,
    progress: bool = True,
    verbose: bool = True,
    metadata: dict | None = None,
    initial_eval: float | None = None,
    make_collector: Callable[..., Any] | None = None,
    tensorboard: bool = False,
) -> TrainResult:
    """Train ``policy`` with PPO on environments from ``make_env`` (already wrapped as the policy needs).

    ``make_env`` may be a list of factories (e.g. graphs of different sizes): iteration ``i`` then collects its
    rollout on factory ``i mod len(make_env)``, so one size-agnostic graph policy learns on all of them.
    ``initial_eval``: the validation reward of ``policy`` as given (e.g. after imitation pretraining); it is
    written as ``best.pt`` before the first update, so PPO keeps it unless it validates better.
    ``metadata``: recorded in every checkpoint (the recipe and the problem). ``make_collector(make_env, policy,
    cfg, share)`` -> a rollout collector (``collect(model, seeds, iteration) -> Rollout``, ``action_shape``,
    ``close()``) for each factory, e.g. Ray actors (:class:`netctrl.scale.RayCollector`; ``share`` is the
    factory's share of the workers' CPUs); default: :class:`LocalCollector` in this process. ``tensorboard``:
    the metrics also go to TensorBoard (``run_dir/tensorboard/``).
    """
    # ------------------------------------------------------------------ setup
    configure_threads(cfg.threads)
    seed_everything(cfg.seed)
    model = policy
    actor_params, critic_params = model.actor_parameters(), model.critic_parameters()
    actor_opt = torch.optim.Adam(actor_params, lr=cfg.actor_lr, eps=1e-5)
    critic_opt = torch.optim.Adam(critic_params, lr=cfg.critic_lr, eps=1e-5)
    rms = RunningMeanStd()
    config = {"algo": "ppo", **asdict(cfg), "policy": model.config_dict()}
    run = RunTracker(
        Path(run_dir),
        config,
        total=cfg.iterations,
        eval_fn=eval_fn,
        eval_every=cfg.eval_every,
        checkpoint_every=cfg.checkpoint_every,
        time_limit_s=cfg.time_limit_s,
        resume=resume,
        resume_keys=RESUMABLE_KEYS,
        progress=progress,
        verbose=verbose,
        title="PPO",
        meta=metadata,
        tensorboard=tensorboard,
    )
    state = run.restore(model, actor_opt=actor_opt, critic_opt=critic_opt)
    if state:
        rms.load_state_dict(state["reward_rms"])
    episodes_done = int(state.get("episodes", 0))

    factories = list(make_env) if isinstance(make_env, (list, tuple)) else [make_env]
    if cfg.workers > 0 and make_collector is None:
        run.close()
        raise ConfigError(
            f"'workers' = {cfg.workers} needs a distributed rollout collector: give make_collector "
            "(the bi-level recipes pass Ray's, netctrl.scale.RayCollector)"
        )
    if make_collector is not None:
        collectors = [make_collector(f, model, cfg, 1.0 / len(factories)) for f in factories]
    else:
        collectors = [LocalCollector(f, cfg.num_envs, cfg.rollout_steps) for f in factories]
    S, n = cfg.rollout_steps, cfg.num_envs
    ret_running = np.zeros(n)

    def payload() -> dict:
        snap = run.snapshot(model, actor_opt=actor_opt, critic_opt=critic_opt)
        return {"episodes": episodes_done, "reward_rms": rms.state_dict(), **snap}

    if initial_eval is not None and not state:
        run.best_eval = float(initial_eval)
        run.ckpt.save({"iteration": 0, "best_eval": run.best_eval, **payload()}, best=True)

    try:
        for it in range(run.start, cfg.iterations):
            t_iter = time.perf_counter()
            if cfg.anneal_lr:
                frac = 1.0 - it / cfg.iterations
                actor_opt.param_groups[0]["lr"] = frac * cfg.actor_lr
                critic_opt.param_groups[0]["lr"] = frac * cfg.critic_lr

            # ---------------------------------------------------------- rollout
            g = cfg.group_size
            collector = collectors[it % len(collectors)]
            act_shape = collector.action_shape
            ro = collector.collect(model, [sd for sd in episode_seeds(cfg.seed, it, n // g) for _ in range(g)], it)
            rewards = np.zeros((S, n), dtype=np.float32)
            ret_running[:] = 0.0
            for s in range(S):
                # bootstrap truncated (not terminated) episodes from their final observation's value
                r = ro.rewards[s] + cfg.gamma * ro.bootstrap[s] * rms.std
                if cfg.normalize_rewards:
                    ret_running = ret_running * cfg.gamma + r
                    rms.update(ret_running)
                    ret_running[ro.dones[s] > 0] = 0.0
                rewards[s] = r / (rms.std if cfg.normalize_rewards else 1.0)
            obs_buf, actions, logps, values, dones = ro.obs, ro.actions, ro.logps, ro.values, ro.dones
            ep_returns, next_value = ro.episode_returns, ro.next_value
            episodes_done += len(ep_returns)

            # ---------------------------------------------------------- advantages (GAE or group baseline)
            adv, returns = gae(rewards, values, dones, next_value, cfg.gamma, cfg.gae_lambda)
            if cfg.advantage == "group":
                adv = group_advantages(rewards, dones, next_value, cfg.gamma, g)

            # ---------------------------------------------------------- update
            B = cfg.batch_size
            b_obs = {k: torch.as_tensor(v.reshape(B, *v.shape[2:])) for k, v in obs_buf.items()}
            b_act = torch.as_tensor(actions.reshape(B, *act_shape))
            b_logp = torch.as_tensor(logps.reshape(B))
            b_adv = torch.as_tensor(adv.reshape(B))
            b_ret = torch.as_tensor(returns.reshape(B))
            model.train()
            kls, clipfracs, pg_losses, v_losses, ents = [], [], [], [], []
            for _ in range(cfg.update_epochs):
                perm = torch.randperm(B)
                for lo in range(0, B - cfg.minibatch_size + 1, cfg.minibatch_size):
                    mb = perm[lo : lo + cfg.minibatch_size]
                    mb_obs = {k: v[mb] for k, v in b_obs.items()}
                    new_logp, entropy, new_v = model.evaluate_actions(mb_obs, b_act[mb])
                    log_ratio = new_logp - b_logp[mb]
                    ratio = log_ratio.exp()
                    with torch.no_grad():
                        kls.append(float(((ratio - 1) - log_ratio).mean()))
                        clipfracs.append(float(((ratio - 1.0).abs() > cfg.clip_coef).float().mean()))
                    mb_adv = b_adv[mb]
                    if cfg.norm_adv:
                        mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                    pg_loss = torch.max(
                        -mb_adv * ratio, -mb_adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)
                    ).mean()
                    ent = entropy.mean()
                    v_loss = 0.5 * F.mse_loss(new_v, b_ret[mb])
                    actor_opt.zero_grad()
                    critic_opt.zero_grad()
                    (pg_loss - cfg.ent_coef * ent + v_loss).backward()
                    torch.nn.utils.clip_grad_norm_(actor_params, cfg.max_grad_norm)
                    torch.nn.utils.clip_grad_norm_(critic_params, cfg.max_grad_norm)
                    actor_opt.step()
                    critic_opt.step()
                    pg_losses.append(float(pg_loss.detach()))
                    v_losses.append(float(v_loss.detach()))
                    ents.append(float(ent.detach()))
                if cfg.target_kl is not None and np.mean(kls[-max(1, B // cfg.minibatch_size) :]) > cfg.target_kl:
                    break
            model.eval()

            # ---------------------------------------------------------- logging, evaluation, checkpoints
            row = {
                "iteration": it + 1,
                "episodes": episodes_done,
                "wall_s": round(run.elapsed(), 3),
                "iter_s": round(time.perf_counter() - t_iter, 4),
                "train_reward": float(np.mean(ep_returns)) if ep_returns else float("nan"),
                "pg_loss": float(np.mean(pg_losses)),
                "v_loss": float(np.mean(v_losses)),
                "entropy": float(np.mean(ents)),
                "approx_kl": float(np.mean(kls)),
                "clipfrac": float(np.mean(clipfracs)),
            }
            if run.end_iteration(it, row, model, payload):
                break
    finally:
        run.close()
        for c in collectors:
            c.close()
    return run.result(model, episodes_done)
