"""Plain registries of problems (with their environments, lower levels and baselines) and algorithms.

``get_problem("mobility/nyc-brooklyn")`` normalises spelling and, for an unknown name, raises a ``ValueError``
listing the choices. Problem packages add themselves with :func:`register_problem` when imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym

from .controllers import Controller


@dataclass
class ProblemSpec:
    """Everything the CLI, the benchmarks and the tests need to know about one problem instance."""

    name: str
    """``family/instance``, e.g. ``mobility/nyc_brooklyn`` or ``supply_chain/1f2s``."""
    env_id: str
    """the Gymnasium id of the raw environment."""
    make_env: Callable[..., gym.Env]
    """``make_env(**overrides)`` -> raw environment."""
    lowers: dict[str, Callable[[gym.Env], object]]
    """lower levels by name; ``"lp"`` is the bi-level one."""
    baselines: Callable[[int], dict[str, Controller]]
    """``baselines(seed)`` -> fresh controllers by name (``"oracle"`` is the reference for % of oracle)."""
    policy: dict
    """default :class:`~netctrl.policies.PolicyConfig` fields of the bi-level agent."""
    train: dict
    """default :class:`~netctrl.algos.ppo.PPOConfig` fields of the bi-level agent."""
    edge_policy: dict = field(default_factory=dict)
    """default policy fields of the naive edge-level agent (lower level ``edge-share``)."""
    edge_train: dict = field(default_factory=dict)
    """default training fields of the naive edge-level agent."""
    test_seeds: tuple[int, ...] = tuple(range(1000, 1010))
    """evaluation seeds shared by every controller in benchmarks (never used for training or selection)."""
    val_seeds: tuple[int, ...] = tuple(range(2000, 2005))
    """validation seeds used during training to pick the best checkpoint."""
    info_keys: tuple[str, ...] = ()
    """``info`` entries summed over an episode and reported next to the reward."""
    description: str = ""
    train_envs: tuple[Callable[..., gym.Env], ...] = ()
    """raw-environment factories to train on instead of ``make_env`` (e.g. a set of graphs of several sizes:
    PPO cycles through them, one per iteration); validation and evaluation still use ``make_env``."""
    expert: Callable[[], object] | None = None
    """``expert()`` -> a teacher for imitation pretraining of the bi-level agent (``target(env)`` -> its
    desired next state, see :mod:`netctrl.algos.imitation`); ``None``: the agent learns by RL alone."""
    pretrain: dict = field(default_factory=dict)
    """default :class:`~netctrl.algos.imitation.ImitationConfig` fields (used when ``expert`` is set)."""
    pretrain_envs: tuple[Callable[..., gym.Env], ...] = ()
    """raw-environment factories of the imitation stage instead of the training ones (e.g. larger graphs,
    where the expert's labels are affordable but RL iterations are not)."""

    def make_lower(self, name: str, env: gym.Env):
        if name not in self.lowers:
            raise ValueError(f"{self.name}: unknown lower level {name!r}; choose one of {sorted(self.lowers)}")
        return self.lowers[name](env)


_PROBLEMS: dict[str, ProblemSpec] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def register_problem(spec: ProblemSpec) -> None:
    key = _key(spec.name)
    if key in _PROBLEMS:
        raise ValueError(f"problem {spec.name!r} is already registered")
    _PROBLEMS[key] = spec


def list_problems() -> list[str]:
    _load_builtin()
    return sorted(p.name for p in _PROBLEMS.values())


def get_problem(name: str | ProblemSpec) -> ProblemSpec:
    """A registered problem by name (spelling-insensitive), or the spec itself."""
    if isinstance(name, ProblemSpec):
        return name
    _load_builtin()
    key = _key(name)
    if key not in _PROBLEMS:
        matches = [k for k in _PROBLEMS if k.startswith(key + "/") or k.split("/")[-1] == key]
        if len(matches) == 1:
            return _PROBLEMS[matches[0]]
        raise ValueError(f"Unknown problem {name!r}; choose one of {list_problems()}")
    return _PROBLEMS[key]


def _load_builtin() -> None:
    from .problems import mobility, network_flow, supply_chain  # noqa: F401  (register themselves)
