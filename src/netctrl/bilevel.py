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

**For other RL libraries.** :func:`make_bilevel` is the entry point of the registered ``netctrl/*-Bilevel-v0``
Gymnasium ids (the raw environment with its LP lower level, ready for a generic algorithm; the list is in
:mod:`netctrl.integrations`), and :class:`GraphLayout` says where a graph observation's node features and edges
lie, in its ``Dict`` or flattened (what a library's flat-input network sees), so a graph encoder can be put
back on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import prod
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

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


def make_bilevel(env: gym.Env, lowers: Mapping[str, Callable[[gym.Env], Any]], lower: str = "lp") -> BilevelWrapper:
    """``BilevelWrapper(env, lowers[lower](env))``: a raw environment with one of its family's lower levels.

    The entry point of the registered ``*-Bilevel-v0`` ids (each family passes its own lower levels, e.g.
    ``{"lp": ..., "edge-share": ...}``); ``lower`` is matched ignoring case, ``-`` and ``_``.
    """
    key = {k.lower().replace("_", "-"): k for k in lowers}.get(str(lower).lower().replace("_", "-"))
    if key is None:
        raise ValueError(f"Unknown lower level {lower!r}; choose one of {sorted(lowers)}")
    return BilevelWrapper(env, lowers[key](env))


@dataclass(frozen=True)
class GraphLayout:
    """Where the arrays of a graph observation lie: the ``Dict`` that netctrl's environments return (node
    features ``x`` (N, F), ``edge_index`` (2, E), optionally ``edge_attr`` (E, D), any other keys kept as they
    are) and its flattened form (``gymnasium.spaces.flatten``: the keys in the ``Dict``'s order, each flattened
    row-major), which is what a library's flat-input network sees.

    The graph structure travels in every observation (``edge_index``), so nothing but this layout is needed to
    rebuild the graph from a flat vector. :meth:`unflatten` only slices and reshapes, so it works on NumPy arrays
    and torch tensors alike, with any leading batch dimensions.

    >>> obs_space = spaces.Dict({"x": spaces.Box(0, 1, (3, 2)), "edge_index": spaces.Box(0, 2, (2, 4), np.int64)})
    >>> layout = GraphLayout.of(obs_space)
    >>> layout.nodes, layout.node_features, layout.edges, layout.edge_features, layout.size
    (3, 2, 4, 0, 14)
    >>> obs = obs_space.sample()
    >>> back = layout.unflatten(spaces.flatten(obs_space, obs))
    >>> bool((back["x"] == obs["x"]).all() and (back["edge_index"] == obs["edge_index"]).all())
    True
    """

    nodes: int
    """``N``."""
    node_features: int
    """``F``."""
    edges: int
    """``E``."""
    edge_features: int
    """``D`` (0 without ``edge_attr``)."""
    shapes: tuple[tuple[str, tuple[int, ...]], ...]
    """every key's shape, in flattening order."""

    @classmethod
    def of(cls, space: spaces.Space) -> GraphLayout:
        """The layout of a graph observation space (a ``ValueError`` names what does not fit)."""
        if not isinstance(space, spaces.Dict) or "x" not in space.spaces or "edge_index" not in space.spaces:
            raise ValueError(
                f"Expected a graph observation space: a Dict with 'x' (N, F) and 'edge_index' (2, E) (got {space})"
            )
        shapes = []
        for key, sub in space.spaces.items():
            if not isinstance(sub, spaces.Box):
                raise ValueError(f"Expected observation key {key!r} to be a Box (got {sub})")
            shapes.append((key, tuple(int(d) for d in sub.shape)))
        shape = dict(shapes)
        if len(shape["x"]) != 2:
            raise ValueError(f"Expected 'x' of shape (N, F) (got {shape['x']})")
        if len(shape["edge_index"]) != 2 or shape["edge_index"][0] != 2:
            raise ValueError(f"Expected 'edge_index' of shape (2, E) (got {shape['edge_index']})")
        (N, F), E = shape["x"], shape["edge_index"][1]
        D = 0
        if "edge_attr" in shape:
            if len(shape["edge_attr"]) != 2 or shape["edge_attr"][0] != E:
                raise ValueError(f"Expected 'edge_attr' of shape ({E}, D) (got {shape['edge_attr']})")
            D = shape["edge_attr"][1]
        return cls(N, F, E, D, tuple(shapes))

    @property
    def size(self) -> int:
        """Length of the flattened observation."""
        return sum(prod(s) for _, s in self.shapes)

    def unflatten(self, flat) -> dict:
        """``(..., size)`` flat observations (array or tensor) -> ``{key: (..., *shape)}``."""
        if flat.shape[-1] != self.size:
            raise ValueError(f"Expected flat graph observations of length {self.size} (got {flat.shape[-1]})")
        lead, out, start = tuple(flat.shape[:-1]), {}, 0
        for key, shape in self.shapes:
            n = prod(shape)
            out[key] = flat[..., start : start + n].reshape(*lead, *shape)
            start += n
        return out


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
