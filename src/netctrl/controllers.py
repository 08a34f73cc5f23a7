"""The one controller interface shared by baselines and trained agents.

A controller maps an observation to an action: ``act(observation) -> action``. Its ``lower`` names the
lower level its action goes through:

* ``None``: the controller produces the raw environment's edge-level action (flows) itself;
* a name such as ``"lp"``: the controller produces a node-level action (e.g. a desired distribution) and
  :func:`netctrl.evaluate.evaluate` wraps the environment in a :class:`~netctrl.bilevel.BilevelWrapper`
  with the problem's lower level of that name before the controller sees it.

Before an episode, :meth:`Controller.bind` receives the environment the controller will act in. Controllers
that need more than the observation (an oracle reads the realised future) take it from ``env.unwrapped``
there; the rest ignore it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class Controller:
    """Base class: override :meth:`act` (and :meth:`bind` if the controller needs the environment)."""

    name: str = "controller"
    lower: str | None = None

    def bind(self, env: gym.Env) -> None:
        """Called with the (possibly wrapped) environment before each episode's ``reset``."""

    def act(self, observation: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def pop_hidden_time(self) -> float:
        """Seconds of deciding done outside :meth:`act` since the last call (e.g. an oracle's matching plan)."""
        return 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, lower={self.lower!r})"


class ConstantDesiredController(Controller):
    """Always asks for the same desired node distribution (e.g. uniform: the reference heuristic)."""

    lower = "lp"

    def __init__(self, weights: np.ndarray | None = None, name: str = "uniform") -> None:
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float32)
        self.name = name
        self._n = None

    def bind(self, env: gym.Env) -> None:
        self._n = env.action_space.shape[0]

    def act(self, observation: Any) -> np.ndarray:
        if self.weights is not None:
            return self.weights
        return np.full(self._n, 1.0 / self._n, dtype=np.float32)


class RandomDesiredController(Controller):
    """Desired distribution drawn from a flat Dirichlet every step (the reference ``random`` baseline)."""

    lower = "lp"
    name = "random"

    def __init__(self, seed: int = 0, concentration: float = 1.0) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.concentration = concentration
        self._n = None

    def bind(self, env: gym.Env) -> None:
        self._n = env.action_space.shape[0]

    def act(self, observation: Any) -> np.ndarray:
        return self.rng.dirichlet(np.full(self._n, self.concentration)).astype(np.float32)


class ZeroActionController(Controller):
    """Does nothing: all edge flows zero (e.g. no rebalancing)."""

    lower = None

    def __init__(self, name: str = "no-rebalancing") -> None:
        self.name = name
        self._shape = None

    def bind(self, env: gym.Env) -> None:
        self._shape = env.action_space.shape

    def act(self, observation: Any) -> np.ndarray:
        return np.zeros(self._shape, dtype=np.float32)
