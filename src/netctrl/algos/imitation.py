"""Imitation pretraining of a bi-level policy from an expert's desired next states (DAgger).

The bi-level agent's action is a *desired next state* (a Dirichlet mean over the nodes, one per commodity);
the lower-level LP turns it into flows. An expert that can say, in any state, which next state it would
reach (for network flow: the oracle MPC's next state, planned with the simulator's realised future, which
only training episodes may use) gives a dense, supervised signal for exactly that action: the policy's mean
is fitted to the expert's next-state distribution by cross-entropy, per commodity (groups whose commodity has
no waiting units carry no label and are skipped).

Data collection follows DAgger (Ross, Gordon and Bagnell, 2011):

* round 0: the expert drives ``episodes`` episodes on each training graph (its targets go through the same
  lower level the agent uses), every visited state labelled with its target;
* rounds ``1..rounds``: the *current policy* drives ``round_episodes`` episodes per graph, the expert labels
  every state the policy visits (``expert.target(env)``), the data are aggregated and the policy
  is refitted: it learns to recover from its own mistakes, which pure behaviour cloning never shows it.

After each fit the policy is validated (``eval_fn``); the best one is kept. The policy still sees only its
observation: the expert's foresight reaches it through the labels of training episodes, never at test time.
Reinforcement learning (PPO) then starts from the result (the ``bilevel-ppo`` recipe with ``imitation``,
:mod:`netctrl.recipes.bilevel`).

Training episodes use seeds ``seed * 100_000 + round * 1000 + episode`` (disjoint from the validation and test
seeds of every problem, which are in ``1000..2999``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import ConfigError
from ..policies.actor_critic import GraphActorCritic, obs_to_tensors
from ..train import Progress, configure_threads, seed_everything

EvalFn = Callable[[GraphActorCritic], dict]


class Expert(Protocol):
    """What DAgger needs from an expert."""

    def target(self, env: Any) -> np.ndarray:
        """The node-level action (desired next state, any positive scale per commodity) in ``env``'s current
        state, which may come from another policy."""


@dataclass
class ImitationConfig:
    """Hyper-parameters of :func:`pretrain`."""

    seed: int = 0
    episodes: int = 15
    """expert-driven episodes per training graph (round 0)."""
    rounds: int = 3
    """DAgger rounds after round 0 (the policy drives, the expert labels)."""
    round_episodes: int = 3
    """policy-driven episodes per training graph and round."""
    epochs: int = 5
    """passes over the data after round 0."""
    round_epochs: int = 2
    """passes over the aggregated data after each later round."""
    lr: float = 1e-3
    """Adam learning rate of the actor."""
    batch_size: int = 32
    """states per gradient step (one graph per batch)."""
    max_grad_norm: float = 1.0
    """gradient-norm clipping."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        for name in ("episodes", "epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"Expected '{name}' > 0 (got {getattr(self, name)})")
        for name in ("rounds", "round_episodes", "round_epochs"):
            if getattr(self, name) < 0:
                raise ConfigError(f"Expected '{name}' >= 0 (got {getattr(self, name)})")
        if not self.lr > 0:
            raise ConfigError(f"Expected 'lr' > 0 (got {self.lr})")


@dataclass
class ImitationResult:
    model: GraphActorCritic
    states: int
    """labelled states collected."""
    episodes: int
    wall_s: float
    best_eval: float | None
    history: list[dict]


def _normalised(target: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distribution (G, n), has_units (G,))`` of a node-level target, per group."""
    t = np.maximum(np.asarray(target, dtype=np.float64).reshape(groups, -1), 0.0)
    total = t.sum(axis=1, keepdims=True)
    return t / np.where(total > 0, total, 1.0), total[:, 0] > 1e-9


def collect_episode(env, expert: Expert, model: GraphActorCritic | None, seed: int, groups: int) -> list[tuple]:
    """One episode of ``env`` (a :class:`~netctrl.bilevel.BilevelWrapper`) driven by the expert (``model`` is
    ``None``) or by ``model``'s deterministic action, every state labelled with the expert's target."""
    raw = env.unwrapped
    obs, _ = env.reset(seed=int(seed))
    out = []
    while True:
        target = np.asarray(expert.target(raw), dtype=np.float64)
        if not np.all(np.isfinite(target)):
            raise ValueError("expert returned a non-finite target")
        dist, mask = _normalised(target, groups)
        out.append((obs, dist.astype(np.float32), mask))
        if model is None:
            action = target
        else:
            with torch.no_grad():
                action = model.distribution(obs_to_tensors(obs)).mode()[0].numpy()
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return out


def imitation_loss(model: GraphActorCritic, batch: Sequence[tuple]) -> torch.Tensor:
    """Mean cross-entropy (minus the target's entropy: a KL divergence, 0 at a perfect fit) between the
    expert's distributions and the policy's Dirichlet means over the labelled groups of ``batch``."""
    obs = {k: torch.as_tensor(np.stack([b[0][k] for b in batch])) for k in batch[0][0]}
    target = torch.as_tensor(np.stack([b[1] for b in batch]))  # (B, G, n)
    mask = torch.as_tensor(np.stack([b[2] for b in batch]), dtype=torch.float32)  # (B, G)
    mean = model.distribution(obs).mode().view(target.shape)
    kl = (target * (torch.log(target.clamp_min(1e-12)) - torch.log(mean.clamp_min(1e-12)))).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp_min(1.0)


def fit(
    model: GraphActorCritic,
    data: dict[int, list[tuple]],
    opt: torch.optim.Optimizer,
    epochs: int,
    batch_size: int,
    max_grad_norm: float,
    rng: np.random.Generator,
    lr: float,
) -> float:
    """``epochs`` passes over ``data`` (lists of labelled states keyed by graph), the learning rate decaying
    linearly from ``lr`` to ``lr / 10``; return the last pass's mean loss."""
    params = model.actor_parameters()
    model.train()
    mean_loss = float("nan")
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = lr * (1.0 - 0.9 * epoch / max(epochs - 1, 1))
        batches = [
            (g, idx[i : i + batch_size])
            for g, states in data.items()
            for idx in [rng.permutation(len(states))]
            for i in range(0, len(states), batch_size)
        ]
        order = rng.permutation(len(batches))
        losses, weights = [], []
        for b in order:
            g, idx = batches[b]
            loss = imitation_loss(model, [data[g][i] for i in idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            opt.step()
            losses.append(loss.item())
            weights.append(len(idx))
        mean_loss = float(np.average(losses, weights=weights))
    model.eval()
    return mean_loss


def pretrain(
    cfg: ImitationConfig,
    make_env: Callable | Sequence[Callable],
    model: GraphActorCritic,
    expert_factory: Callable[[], Expert],
    *,
    eval_fn: EvalFn | None = None,
    verbose: bool = True,
    progress: bool = False,
) -> ImitationResult:
    """Fit ``model``'s desired next state to the expert's by DAgger (see the module docstring).

    ``make_env`` returns environments wrapped with the agent's lower level (a list: one per training graph).
    The returned model holds the best weights on ``eval_fn`` (the last ones without it). ``progress``: a bar over
    the labelled episodes (the expert's solves are the slow part).
    """
    configure_threads(cfg.threads)
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    factories = list(make_env) if isinstance(make_env, (list, tuple)) else [make_env]
    envs = [f() for f in factories]
    expert = expert_factory()
    groups = model.cfg.dirichlet_groups
    opt = torch.optim.Adam(model.actor_parameters(), lr=cfg.lr)
    data: dict[int, list[tuple]] = {g: [] for g in range(len(envs))}
    history: list[dict] = []
    best_eval, best_state = None, None
    t0 = time.perf_counter()
    episodes = 0
    with Progress(
        len(envs) * (cfg.episodes + cfg.rounds * cfg.round_episodes), "imitation episodes", enabled=progress
    ) as bar:
        for rnd in range(cfg.rounds + 1):
            n_ep = cfg.episodes if rnd == 0 else cfg.round_episodes
            for g, env in enumerate(envs):
                for e in range(n_ep):
                    seed = cfg.seed * 100_000 + rnd * 1000 + e
                    data[g] += collect_episode(env, expert, None if rnd == 0 else model, seed, groups)
                    episodes += 1
                    bar.update(1, f"round {rnd}/{cfg.rounds}")
            loss = fit(
                model,
                data,
                opt,
                cfg.epochs if rnd == 0 else cfg.round_epochs,
                cfg.batch_size,
                cfg.max_grad_norm,
                rng,
                cfg.lr,
            )
            row = {
                "round": rnd,
                "states": sum(map(len, data.values())),
                "loss": loss,
                "wall_s": time.perf_counter() - t0,
            }
            if eval_fn is not None:
                row.update(eval_fn(model))
                if best_eval is None or row["eval_reward"] >= best_eval:
                    best_eval = float(row["eval_reward"])
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            history.append(row)
            if verbose:
                print(
                    "imitation "
                    + " | ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                    flush=True,
                )
    for env in envs:
        env.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return ImitationResult(model, sum(map(len, data.values())), episodes, time.perf_counter() - t0, best_eval, history)
