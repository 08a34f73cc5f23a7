"""Scale-out on Ray (the optional ``ray`` extra: ``pip install 'netctrl[ray]'``).

Two things run on Ray, locally or on a cluster, with the same configs and the same results format as in one
process:

* **rollout workers** for PPO (``PPOConfig.workers = N``, ``netctrl train --workers N``): :class:`RayCollector`
  starts N actors, each holding its share of the vectorised environments and a copy of the policy; every
  iteration it broadcasts the weights (one object in Ray's store), each actor steps its environments with
  its own batched policy forwards, and the learner joins the rollouts and updates as usual (the bi-level
  recipes give PPO this collector when ``workers > 0``);
* **sweeps** (``netctrl sweep``, :mod:`netctrl.sweep`): seeds x problems x hyper-parameters, one Ray task per
  job (:func:`init_ray` connects).

**Failures.** A rollout actor that dies (its process killed, its node lost) is restarted by Ray (up to
``max_restarts`` times) and its task retried; since an actor's rollout depends only on the weights, the seeds
and the iteration, the retried rollout is the one the dead actor would have returned, and the run stays
reproducible. A rollout that does not come back within ``timeout_s`` (a hung worker) or an actor that keeps
dying ends the run with a :class:`~netctrl.errors.WorkerError` naming the worker: never a hang. The last
checkpoint stays, and ``--resume`` continues from it.

On a cluster: start Ray on the machines (``ray start --head`` on one, ``ray start --address=HEAD:6379`` on the
others), install netctrl (same version) on every node, and pass ``--ray-address auto`` (on a node of the
cluster) or ``--ray-address ray://HEAD:10001`` (Ray client). Without ``--ray-address`` a local Ray instance
with this machine's cores is started. Run directories are written by the workers, so on a cluster give
``--runs`` a path every node shares.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .algos.ppo import Rollout, collect_rollout, make_vector_env
from .errors import DependencyNotInstalled, WorkerError


def require_ray():
    """Import Ray, or explain how to get it."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise DependencyNotInstalled(
            "Ray is not installed: pip install 'netctrl[ray]' (or run with workers=0 / without --ray)"
        ) from exc
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to the Ray cluster at ``address`` or start a local instance (once per process)."""
    ray = require_ray()
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "configure_logging": False, "log_to_driver": True}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), **kwargs)


# ---------------------------------------------------------------------------------------------- rollouts
class RolloutWorker:
    """A Ray actor's state: ``num_envs`` environments and a policy copy (weights refreshed every iteration)."""

    def __init__(self, make_env: Callable, model, num_envs: int, steps: int, seed: int, index: int) -> None:
        from .train import configure_threads

        configure_threads(1)
        self.envs = make_vector_env(make_env, num_envs)
        self.model = model
        self.model.eval()
        self.steps, self.seed, self.index = steps, seed, index

    def action_shape(self) -> tuple[int, ...]:
        return self.envs.single_action_space.shape

    def collect(self, weights: dict, seeds: list[int], iteration: int) -> Rollout:
        import torch

        self.model.load_state_dict(weights)
        # action sampling: a stream per (run seed, iteration, worker), so a run is reproducible for a given N
        torch.manual_seed(int(np.random.SeedSequence([self.seed, iteration, self.index]).generate_state(1)[0]))
        return collect_rollout(self.model, self.envs, seeds, self.steps)

    def close(self) -> None:
        self.envs.close()


class RayCollector:
    """PPO rollouts on ``workers`` Ray actors (``num_envs`` split evenly, each actor ``cpus_per_worker`` CPUs
    of Ray's accounting: a fraction when several collectors, one per training graph, share the workers).

    A dead actor is restarted and its rollout retried (``max_restarts`` times per actor); a rollout slower than
    ``timeout_s`` seconds raises :class:`~netctrl.errors.WorkerError`."""

    def __init__(
        self,
        make_env: Callable,
        model,
        num_envs: int,
        steps: int,
        workers: int,
        seed: int = 0,
        cpus_per_worker: float = 1.0,
        max_restarts: int = 3,
        timeout_s: float = 900.0,
    ) -> None:
        ray = require_ray()
        init_ray()
        if num_envs % workers:
            raise ValueError(f"num_envs ({num_envs}) must be a multiple of workers ({workers})")
        self.ray, self.per, self.timeout_s = ray, num_envs // workers, timeout_s
        actor = ray.remote(num_cpus=cpus_per_worker, max_restarts=max_restarts, max_task_retries=max_restarts)(
            RolloutWorker
        )
        # the constructor's arguments stay in Ray's object store while the collector lives: a restarted actor
        # runs its constructor again with them
        self._init_args = (ray.put(make_env), ray.put(copy.deepcopy(model).cpu()))
        self.actors = [actor.remote(*self._init_args, self.per, steps, seed, i) for i in range(workers)]
        self.action_shape = tuple(self._get(self.actors[0].action_shape.remote(), "starting rollout worker 0"))

    def _get(self, future, what: str):
        from ray.exceptions import GetTimeoutError, RayActorError

        try:
            return self.ray.get(future, timeout=self.timeout_s)
        except GetTimeoutError:
            raise WorkerError(
                f"{what}: no answer within {self.timeout_s:g} s (a hung worker or a lost node); "
                "the last checkpoint is kept, continue with --resume"
            ) from None
        except RayActorError as exc:
            raise WorkerError(
                f"{what}: the worker died and could not be restarted ({str(exc).splitlines()[0][:160]}); "
                "the last checkpoint is kept, continue with --resume"
            ) from None

    def collect(self, model, seeds: Sequence[int], iteration: int) -> Rollout:
        weights = self.ray.put({k: v.detach().cpu() for k, v in model.state_dict().items()})
        seeds = list(seeds)
        futures = [
            a.collect.remote(weights, seeds[i * self.per : (i + 1) * self.per], iteration)
            for i, a in enumerate(self.actors)
        ]
        return Rollout.concat(
            [self._get(f, f"rollout worker {i}, iteration {iteration}") for i, f in enumerate(futures)]
        )

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
