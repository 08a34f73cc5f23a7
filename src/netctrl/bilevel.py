"""``BilevelWrapper``: a node-level "desired next state" action in, the environment's edge-level action out.

The upper level (any RL algorithm, any controller) chooses a desired state on the nodes; the wrapper asks the
problem's *lower level* for the edge flows that best reach it and steps the raw environment with them. The
algorithm therefore sees a plain, fixed-size node-level action space.

A lower level is any object with

* ``action_space``: the node-level space it accepts (e.g. ``Box(0, 1, (N,))`` for a distribution), and
* ``solve(state, action) -> edge action``, where ``state = env.unwrapped.flow_state()``, and
* where it keeps state between calls, ``reset()``: back to the state it was built in.

Lower levels keep their HiGHS model between calls (hot start) and raise a clear error, never return garbage.

**Each episode starts from the lower level as built.** At every ``reset()`` the wrapper resets its lower level
(for the LPs: the construction's data in a new HiGHS model, 0.2 ms). An episode's flows then depend only on its
seed and its actions, never on what earlier episodes left in the solver's basis or factorisation: evaluation
results do not depend on the order of the seeds, and a training run resumed at an iteration boundary (every
iteration starts with reset environments) repeats the uninterrupted run bit for bit.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from .errors import ActionError


class BilevelWrapper(gym.ActionWrapper):
    """Wrap ``env`` so that its action is the lower level's node-level action.

    Args:
        env: a raw netctrl environment exposing ``flow_state()``.
        lower: the problem's lower level (see the module docstring).

    The last edge action is kept in ``self.last_edge_action`` (and ``info['edge_action']`` is not added, so
    ``info`` stays the raw environment's).
    """

    def __init__(self, env: gym.Env, lower) -> None:
        super().__init__(env)
        if not hasattr(env.unwrapped, "flow_state"):
            raise TypeError(f"{type(env.unwrapped).__name__} has no flow_state(); it cannot be wrapped bi-level")
        self.lower = lower
        self.action_space = lower.action_space
        self.last_edge_action: np.ndarray | None = None

    def reset(self, **kwargs):
        if hasattr(self.lower, "reset"):
            self.lower.reset()
        self.last_edge_action = None
        return self.env.reset(**kwargs)

    def action(self, action):
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ActionError(f"Expected a node-level action of shape {self.action_space.shape} (got {a.shape})")
        if not np.all(np.isfinite(a)):
            raise ActionError("Expected a finite node-level action (got NaN/inf; is the policy diverging?)")
        edge = self.lower.solve(self.env.unwrapped.flow_state(), a)
        self.last_edge_action = edge
        return np.asarray(edge, dtype=np.float32)


def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``weights`` (non-negative, summing to 1) that add up to ``total``.

    Lower levels use it to turn a desired distribution into desired whole units (vehicles, stock).

    >>> largest_remainder(np.array([0.5, 0.3, 0.2]), 11).tolist()
    [6.0, 3.0, 2.0]
    """
    raw = np.asarray(weights, dtype=np.float64) * total
    base = np.floor(raw)
    rest = int(total - base.sum())
    if rest > 0:
        base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    return base
