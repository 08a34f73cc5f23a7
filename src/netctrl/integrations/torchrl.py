"""TorchRL on netctrl environments (the optional ``torchrl`` extra: ``pip install 'netctrl[torchrl]'``).

A registered bi-level id is a TorchRL environment through TorchRL's own ``GymWrapper``; the graph ``Dict``
becomes the tensordict keys ``x``, ``edge_index``, ``edge_attr``. :func:`ppo` is TorchRL's PPO recipe on it,
short and readable top to bottom (collector -> GAE -> clipped PPO loss -> Adam), with netctrl's graph encoder
(:class:`~.features.GraphFeatures`) in the actor and the critic::

    from netctrl.integrations.torchrl import ppo
    result = ppo("netctrl/Mobility-NYCBrooklyn-Bilevel-v0", frames_per_batch=200, total_frames=20_000)

``examples/torchrl_ppo.py`` runs it from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from torch import Tensor, nn

from ..bilevel import GraphLayout
from ..errors import DependencyNotInstalled
from ..policies.encoders import mlp
from .features import GraphFeatures

try:
    from tensordict.nn import TensorDictModule
    from torchrl.collectors import Collector
    from torchrl.envs import GymWrapper
    from torchrl.modules import ProbabilisticActor, TanhNormal, ValueOperator
    from torchrl.objectives import ClipPPOLoss
    from torchrl.objectives.value import GAE
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise DependencyNotInstalled("TorchRL is not installed: pip install 'netctrl[torchrl]'") from exc

__all__ = ["PPOResult", "make_env", "make_modules", "ppo"]


def make_env(env: str | gym.Env, **make_kwargs) -> GymWrapper:
    """A TorchRL environment of a netctrl id (``gym.make(env, **make_kwargs)``) or of a Gymnasium env."""
    return GymWrapper(gym.make(env, **make_kwargs) if isinstance(env, str) else env)


def _layout(env: GymWrapper) -> GraphLayout:
    """The graph layout of a TorchRL environment's observation spec (keys ``x``, ``edge_index``, ``edge_attr``)."""
    spec = env.observation_spec
    boxes: dict[str, gym.spaces.Space[Any]] = {
        k: gym.spaces.Box(-float("inf"), float("inf"), tuple(spec[k].shape[env.batch_dims :]))
        for k in ("x", "edge_index", "edge_attr")
        if k in set(spec.keys())
    }
    return GraphLayout.of(gym.spaces.Dict(boxes))


def _keys(layout: GraphLayout) -> list[str]:
    return ["x", "edge_index", "edge_attr"] if layout.edge_features else ["x", "edge_index"]


class _GraphNet(nn.Module):
    """Graph features -> MLP; the actor splits the output into a location and a positive scale."""

    def __init__(self, layout: GraphLayout, out: int, hidden: int, layers: int, head_hidden: int, split: bool):
        super().__init__()
        self.features = GraphFeatures(layout, hidden=hidden, layers=layers)
        self.head = mlp([self.features.features_dim, head_hidden, out])
        self.split = split

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None):
        obs = {"x": x, "edge_index": edge_index}
        if edge_attr is not None:
            obs["edge_attr"] = edge_attr
        y = self.head(self.features(obs))
        if not self.split:
            return y
        loc, scale = y.chunk(2, dim=-1)
        return loc, nn.functional.softplus(scale) + 1e-4


def make_modules(env: GymWrapper, hidden: int = 32, layers: int = 2, head_hidden: int = 64):
    """``(actor, critic)`` for ``env``: a ``ProbabilisticActor`` (tanh-Normal into the action ``Box``) and a
    ``ValueOperator``, each with its own netctrl graph encoder."""
    layout = _layout(env)
    spec = env.action_spec
    n = int(spec.shape[-1])
    keys = _keys(layout)
    net = TensorDictModule(_GraphNet(layout, 2 * n, hidden, layers, head_hidden, True), keys, ["loc", "scale"])
    actor = ProbabilisticActor(
        net,
        in_keys=["loc", "scale"],
        spec=spec,
        distribution_class=TanhNormal,
        distribution_kwargs={"low": spec.space.low, "high": spec.space.high},
        return_log_prob=True,
    )
    critic = ValueOperator(_GraphNet(layout, 1, hidden, layers, head_hidden, False), in_keys=keys)
    return actor, critic


@dataclass
class PPOResult:
    """What :func:`ppo` ran."""

    frames: int
    """environment steps collected."""
    losses: list[dict[str, float]] = field(default_factory=list)
    """per gradient step: the PPO loss terms."""
    mean_reward: list[float] = field(default_factory=list)
    """per collected batch: the mean reward per step."""
    actor: ProbabilisticActor | None = None
    critic: ValueOperator | None = None


def ppo(
    env_id: str = "netctrl/Mobility-NYCBrooklyn-Bilevel-v0",
    *,
    frames_per_batch: int = 64,
    total_frames: int = 128,
    epochs: int = 2,
    minibatch_size: int = 32,
    hidden: int = 32,
    layers: int = 2,
    lr: float = 3e-4,
    gamma: float = 0.97,
    lmbda: float = 0.95,
    clip_epsilon: float = 0.2,
    reward_scale: float = 1.0,
    max_grad_norm: float = 1.0,
    seed: int = 0,
    **make_kwargs,
) -> PPOResult:
    """Clipped PPO with TorchRL's collector, GAE and loss on a netctrl environment (one process, CPU).

    Args:
        env_id: a netctrl Gymnasium id, typically a bi-level one (:func:`netctrl.integrations.bilevel_ids`).
        frames_per_batch, total_frames: environment steps per collected batch, in all.
        epochs, minibatch_size: passes over each batch, and its minibatches.
        hidden, layers: the graph encoders (one in the actor, one in the critic).
        lr, gamma, lmbda, clip_epsilon, max_grad_norm: the usual PPO settings.
        reward_scale: rewards are multiplied by it before GAE (netctrl's rewards are money, often hundreds).
        seed: seeds torch and the environment.
        **make_kwargs: passed to ``gym.make`` (e.g. ``lower="edge-share"``).
    """
    torch.manual_seed(seed)
    env = make_env(env_id, **make_kwargs)
    env.set_seed(seed)
    actor, critic = make_modules(env, hidden=hidden, layers=layers)
    advantage = GAE(gamma=gamma, lmbda=lmbda, value_network=critic, average_gae=True)
    loss_fn = ClipPPOLoss(actor_network=actor, critic_network=critic, clip_epsilon=clip_epsilon, entropy_bonus=False)
    optim = torch.optim.Adam(loss_fn.parameters(), lr=lr)
    collector = Collector(
        env,
        actor,
        frames_per_batch=frames_per_batch,
        total_frames=total_frames,
        split_trajs=False,
        auto_register_policy_transforms=True,  # TorchRL's coming default (it adds the InitTracker the actor asks for)
    )
    result = PPOResult(frames=0, actor=actor, critic=critic)
    for data in collector:
        data = data.reshape(-1)
        data["next", "reward"] = data["next", "reward"] * reward_scale
        result.frames += data.numel()
        result.mean_reward.append(float(data["next", "reward"].mean()))
        for _ in range(epochs):
            with torch.no_grad():
                advantage(data)
            perm = torch.randperm(data.numel())
            for start in range(0, data.numel(), minibatch_size):
                terms = loss_fn(data[perm[start : start + minibatch_size]])
                loss = terms["loss_objective"] + terms["loss_critic"]
                optim.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(loss_fn.parameters(), max_grad_norm)
                optim.step()
                result.losses.append({k: float(v.detach()) for k, v in terms.items() if k.startswith("loss_")})
        collector.update_policy_weights_()
    collector.shutdown()
    env.close()
    return result
