"""Evaluate controllers side by side: same environment factory, same seeds, step by step."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import gymnasium as gym
import numpy as np

from .bilevel import BilevelWrapper
from .controllers import Controller


@dataclass
class EpisodeResult:
    seed: int
    reward: float
    steps: int
    info_sums: dict[str, float]
    decision_s: float
    """wall time spent in ``controller.act`` + lower level + matching, i.e. deciding (not simulating)."""
    wall_s: float


@dataclass
class EvalResult:
    controller: str
    episodes: list[EpisodeResult] = field(default_factory=list)

    @property
    def rewards(self) -> np.ndarray:
        return np.array([e.reward for e in self.episodes])

    def mean(self, key: str) -> float:
        return float(np.mean([e.info_sums.get(key, 0.0) for e in self.episodes]))

    def summary(self) -> dict:
        r = self.rewards
        steps = sum(e.steps for e in self.episodes)
        return {
            "controller": self.controller,
            "episodes": len(self.episodes),
            "seeds": [e.seed for e in self.episodes],
            "reward_mean": float(r.mean()),
            "reward_std": float(r.std()),
            "decision_ms": 1000.0 * sum(e.decision_s for e in self.episodes) / max(steps, 1),
            "wall_s": float(sum(e.wall_s for e in self.episodes)),
        }


def run_episode(controller: Controller, env: gym.Env, seed: int, sum_keys: Iterable[str] = ()) -> EpisodeResult:
    """Run one episode of ``controller`` in ``env`` (already wrapped for the controller's level)."""
    controller.bind(env)
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed)
    sums = {k: float(info.get(k, 0.0)) for k in sum_keys}
    total, steps, decide = 0.0, 0, controller.pop_hidden_time()
    while True:
        d0 = time.perf_counter()
        action = controller.act(obs)
        if isinstance(env, BilevelWrapper):
            action_env = env.action(action)  # time the lower level as part of the decision
            decide += time.perf_counter() - d0
            obs, reward, terminated, truncated, info = env.env.step(action_env)
        else:
            decide += time.perf_counter() - d0
            obs, reward, terminated, truncated, info = env.step(action)
        decide += controller.pop_hidden_time()
        total += float(reward)
        steps += 1
        for k in sum_keys:
            sums[k] += float(info.get(k, 0.0))
        if terminated or truncated:
            break
    return EpisodeResult(seed, total, steps, sums, decide, time.perf_counter() - t0)


def evaluate(
    controller: Controller,
    make_env: Callable[[], gym.Env],
    seeds: Sequence[int],
    *,
    make_lower: Callable[[str, gym.Env], object] | None = None,
    sum_keys: Iterable[str] = (),
) -> EvalResult:
    """Evaluate ``controller`` on one episode per seed.

    Controllers that act through a lower level (``controller.lower``) get the environment wrapped in a
    :class:`BilevelWrapper` with ``make_lower(controller.lower, env)``.
    """
    env = make_env()
    if controller.lower is not None:
        if make_lower is None:
            raise ValueError(f"controller {controller.name!r} acts through lower level {controller.lower!r}: give make_lower")
        env = BilevelWrapper(env, make_lower(controller.lower, env))
    out = EvalResult(controller.name)
    for s in seeds:
        out.episodes.append(run_episode(controller, env, int(s), sum_keys))
    env.close()
    return out
