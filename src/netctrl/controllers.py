"""The one controller interface shared by baselines, exact solvers and trained agents, and the one episode runner.

A controller maps an observation to an action: ``act(observation) -> action``. What an observation and an
action are depends on the problem's *kind* (:data:`KINDS`):

* ``gymnasium``: a Gymnasium environment; the observation and action of its spaces. A controller whose
  ``lower`` names a lower level (``"lp"``) acts on the node level: :func:`netctrl.evaluate.evaluate` wraps the
  environment in a :class:`~netctrl.bilevel.BilevelWrapper` with the problem's lower level of that name, which
  turns the controller's desired next state into edge flows;
* ``pettingzoo``: a PettingZoo parallel environment (one agent per router); the observation is the dict of
  every live agent's observation, the action the dict of their actions;
* ``instance``: an *instance -> solution* problem (:class:`InstanceProblem`): the observation is the instance
  (a graph game, a toll-design network), the action a solution, scored in one step.

Before an episode, :meth:`Controller.bind` receives the environment the controller will act in (controllers
that need more than the observation, e.g. an oracle that reads the realised future, take it from
``env.unwrapped`` there). After every step, :meth:`Controller.observe` receives what happened, so online
learners (Q-routing, a policy adapting after a link failure) learn inside the same loop as everyone else.
:func:`run_episode` is that loop, for every kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = {
    "gymnasium": "Gymnasium environment (single agent)",
    "pettingzoo": "PettingZoo parallel environment (one agent per node)",
    "instance": "instance -> solution problem (one decision per instance, scored at once)",
}


class Controller:
    """Base class: override :meth:`act` (and :meth:`bind` / :meth:`observe` if the controller needs them)."""

    name: str = "controller"
    lower: str | None = None
    """the lower level the action goes through (``None``: the environment's own action)."""

    def begin_episode(self, seed: int) -> None:
        """Called with the episode's seed before :meth:`bind` (see :class:`SeededController`)."""

    def bind(self, env: Any) -> None:
        """Called with the (possibly wrapped) environment before each episode's ``reset``."""

    def act(self, observation: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def observe(self, observation: Any, reward: Any, terminated: Any, truncated: Any, info: Any) -> None:
        """Called after every step with what ``env.step`` returned (the next observation)."""

    def pop_hidden_time(self) -> float:
        """Seconds of deciding done outside :meth:`act` since the last call (e.g. an oracle's matching plan)."""
        return 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, lower={self.lower!r})"


class SeededController(Controller):
    """A controller with randomness of its own (``self.rng``), drawn afresh for every episode from its ``seed``
    and the episode's: an episode's result depends on the two seeds only, not on the episodes before it, so an
    evaluation gives the same per-seed results in any order of the seeds."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    def begin_episode(self, seed: int) -> None:
        self.rng = np.random.default_rng([self.seed, int(seed)])


class InstanceProblem:
    """An *instance -> solution* problem with the reset/step shape of an environment: one step per episode.

    ``reset(seed=s)`` returns ``(instance, info)``: the instance of seed ``s`` (drawn from a distribution, or
    the one instance of a file); ``step(solution)`` checks the solution (an invalid one raises
    :class:`~netctrl.errors.ActionError` naming what is wrong), scores it and returns
    ``(None, reward, True, False, info)``. Subclasses implement :meth:`instance` and :meth:`score`.
    """

    kind = "instance"

    def __init__(self) -> None:
        self.current: Any = None

    @property
    def unwrapped(self) -> InstanceProblem:
        return self

    def instance(self, seed: int | None) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, instance: Any, solution: Any) -> tuple[float, dict]:  # pragma: no cover - interface
        """``(reward, info)`` of ``solution`` on ``instance``."""
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        self.current = self.instance(seed)
        return self.current, {}

    def step(self, solution: Any) -> tuple[None, float, bool, bool, dict]:
        if self.current is None:
            from .errors import ActionError

            raise ActionError("step() before reset(): no instance to solve")
        reward, info = self.score(self.current, solution)
        self.current = None
        return None, float(reward), True, False, info

    def close(self) -> None:
        pass


def is_parallel(env: Any) -> bool:
    """Whether ``env`` follows PettingZoo's parallel API (``possible_agents``; ``step`` takes a dict)."""
    return hasattr(env, "possible_agents")


@dataclass
class EpisodeResult:
    seed: int
    reward: float
    steps: int
    info_sums: dict[str, float]
    decision_s: float
    """wall time spent in ``controller.act`` + lower level + matching, i.e. deciding (not simulating)."""
    wall_s: float
    metrics: dict = field(default_factory=dict)
    """the environment's ``episode_metrics()`` at the end of the episode (``{}`` if it has none)."""
    last_info: dict = field(default_factory=dict)
    """``info`` of the last step (an instance problem's solution details)."""


def _agent_sum(d: dict) -> float:
    return float(sum(float(v) for v in d.values()))


def run_episode(
    controller: Controller,
    env: Any,
    seed: int,
    sum_keys: Iterable[str] = (),
    on_step: Callable[[int], None] | None = None,
) -> EpisodeResult:
    """Run one episode of ``controller`` in ``env`` (already wrapped for the controller's level).

    The reward is the episode return (for a PettingZoo environment: summed over the agents); ``sum_keys``
    are ``info`` entries summed over the episode (and over the agents); the environment's
    ``episode_metrics()``, if it has one, is recorded at the end. ``on_step(steps)`` is called after every
    step with the steps done so far (e.g. a progress bar's status; it is not part of the decision time).
    """
    from .bilevel import BilevelWrapper

    sum_keys = tuple(sum_keys)
    parallel = is_parallel(env)
    begin = getattr(controller, "begin_episode", None)  # duck-typed controllers may lack the hook
    if begin is not None:
        begin(int(seed))
    controller.bind(env)
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed)
    sums = dict.fromkeys(sum_keys, 0.0)
    if not parallel:
        for k in sum_keys:
            sums[k] += float(info.get(k, 0.0))
    total, steps, decide = 0.0, 0, controller.pop_hidden_time()
    bilevel = isinstance(env, BilevelWrapper)
    observe = getattr(controller, "observe", None)  # duck-typed controllers may lack the hook
    while True:
        d0 = time.perf_counter()
        action = controller.act(obs)
        if bilevel:
            action_env = env.action(action)  # time the lower level as part of the decision
            decide += time.perf_counter() - d0
            obs, reward, terminated, truncated, info = env.env.step(action_env)
        else:
            decide += time.perf_counter() - d0
            obs, reward, terminated, truncated, info = env.step(action)
        decide += controller.pop_hidden_time()
        if observe is not None:
            observe(obs, reward, terminated, truncated, info)
        steps += 1
        if on_step is not None:
            on_step(steps)
        if parallel:
            total += _agent_sum(reward)
            for k in sum_keys:
                sums[k] += float(sum(float(i.get(k, 0.0)) for i in info.values()))
            done = not env.agents
        else:
            total += float(reward)
            for k in sum_keys:
                sums[k] += float(info.get(k, 0.0))
            done = terminated or truncated
        if done:
            break
    metrics = getattr(env.unwrapped if hasattr(env, "unwrapped") else env, "episode_metrics", None)
    return EpisodeResult(
        seed,
        total,
        steps,
        sums,
        decide,
        time.perf_counter() - t0,
        dict(metrics()) if callable(metrics) else {},
        info if isinstance(info, dict) else {},
    )


# ---------------------------------------------------------------------------------------------- generic baselines
class ConstantDesiredController(Controller):
    """Always asks for the same desired node distribution (e.g. uniform: the reference heuristic)."""

    lower = "lp"

    def __init__(self, weights: np.ndarray | None = None, name: str = "uniform") -> None:
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        self.name = name
        self._n: int | None = None  # set by bind()

    def bind(self, env) -> None:
        self._n = env.action_space.shape[0]

    def act(self, observation: Any) -> np.ndarray:
        if self.weights is not None:
            return self.weights
        assert self._n is not None, "bind(env) before act()"
        return np.full(self._n, 1.0 / self._n, dtype=np.float32)


class RandomDesiredController(SeededController):
    """Desired distribution drawn from a flat Dirichlet every step (the reference ``random`` baseline)."""

    lower = "lp"
    name = "random"

    def __init__(self, seed: int = 0, concentration: float = 1.0) -> None:
        super().__init__(seed)
        self.concentration = concentration
        self._n: int | None = None  # set by bind()

    def bind(self, env) -> None:
        self._n = env.action_space.shape[0]

    def act(self, observation: Any) -> np.ndarray:
        return self.rng.dirichlet(np.full(self._n, self.concentration)).astype(np.float32)


class ZeroActionController(Controller):
    """Does nothing: all edge flows zero (e.g. no rebalancing)."""

    lower = None

    def __init__(self, name: str = "no-rebalancing") -> None:
        self.name = name
        self._shape: tuple[int, ...] | None = None  # set by bind()

    def bind(self, env) -> None:
        self._shape = env.action_space.shape

    def act(self, observation: Any) -> np.ndarray:
        assert self._shape is not None, "bind(env) before act()"
        return np.zeros(self._shape, dtype=np.float32)
