"""Stable-Baselines3 on netctrl environments, with netctrl's graph encoders (the optional ``sb3`` extra:
``pip install 'netctrl[sb3]'``).

One line::

    import gymnasium as gym
    import netctrl
    from stable_baselines3 import PPO
    from netctrl.integrations.sb3 import graph_policy_kwargs

    env = gym.make("netctrl/SupplyChain-1F2S-Bilevel-v0")
    model = PPO("MultiInputPolicy", env, policy_kwargs=graph_policy_kwargs(env)).learn(10_000)

netctrl's observations are a ``Dict`` (``x``, ``edge_index``, ``edge_attr``), hence SB3's ``MultiInputPolicy``;
with a flattened observation (``gymnasium.wrappers.FlattenObservation``) write ``"MlpPolicy"`` instead: the
extractor rebuilds the graph from the flat vector (:class:`~netctrl.bilevel.GraphLayout`). Either way the policy
and value networks read :class:`GraphFeaturesExtractor`'s per-node embeddings, concatenated (SB3's action
heads are flat), and SB3 trains the encoder with them.

Bounds: SB3 samples a Gaussian and clips it to the action ``Box`` (PPO, A2C), or squashes into it (SAC, TD3).
Every bi-level id has a finite ``Box`` (:mod:`netctrl.integrations`); the supply chain's production bound is
what the environment accepts (hundreds of mean demands where capacity is unlimited), fine for clipping; for a
squashing algorithm, narrow it (e.g. a ``gymnasium.wrappers.RescaleAction`` over a clipped box of your own).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium import spaces

from ..bilevel import GraphLayout
from ..errors import DependencyNotInstalled
from .features import GraphFeatures

try:
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise DependencyNotInstalled("Stable-Baselines3 is not installed: pip install 'netctrl[sb3]'") from exc

__all__ = ["GraphFeaturesExtractor", "graph_policy_kwargs"]


class GraphFeaturesExtractor(BaseFeaturesExtractor):
    """SB3 features extractor running a netctrl graph encoder (:class:`~.features.GraphFeatures`).

    Args:
        observation_space: what SB3 sees: the graph ``Dict``, or its flattened ``Box``.
        graph_space: the graph ``Dict`` when ``observation_space`` is flat (:func:`graph_policy_kwargs` finds it).
        encoder, hidden, layers, aggr, readout, symlog: see :class:`~.features.GraphFeatures`.

    ``self.graph.encoder`` is the netctrl encoder (its parameters are the extractor's, trained by SB3).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        graph_space: spaces.Dict | None = None,
        encoder: str | None = None,
        hidden: int = 64,
        layers: int = 2,
        aggr: str = "add",
        readout: str = "nodes",
        symlog: bool = False,
    ) -> None:
        layout = GraphLayout.of(observation_space if graph_space is None else graph_space)
        self.flat = not isinstance(observation_space, spaces.Dict)
        if self.flat and (not isinstance(observation_space, spaces.Box) or observation_space.shape != (layout.size,)):
            raise ValueError(
                f"Expected a flattened graph observation Box of shape ({layout.size},) (got {observation_space})"
            )
        graph = GraphFeatures(layout, encoder, hidden, layers, aggr, readout, symlog)
        super().__init__(observation_space, graph.features_dim)
        self.graph = graph

    @property
    def encoder(self):
        """The netctrl graph encoder inside."""
        return self.graph.encoder

    def forward(self, observations):
        return self.graph(observations)


def _graph_space(env) -> spaces.Dict | None:
    """``None`` when ``env`` observes the graph ``Dict`` itself, else the ``Dict`` of the raw environment below."""
    space = env.observation_space
    if isinstance(space, spaces.Dict):
        GraphLayout.of(space)  # a clear error for a Dict that is not a graph
        return None
    if hasattr(env, "get_attr"):  # an SB3 VecEnv
        raw = env.get_attr("unwrapped", [0])[0]
    elif isinstance(env, gym.Env):
        raw = env.unwrapped
    else:
        raise TypeError(f"Expected a Gymnasium environment or an SB3 VecEnv (got {type(env).__name__})")
    GraphLayout.of(raw.observation_space)
    return raw.observation_space


def graph_policy_kwargs(
    env,
    hidden: int = 64,
    layers: int = 2,
    encoder: str | None = None,
    readout: str = "nodes",
    symlog: bool = False,
    aggr: str = "add",
    net_arch: Any = None,
    **policy_kwargs: Any,
) -> dict[str, Any]:
    """``policy_kwargs`` for any SB3 algorithm: :class:`GraphFeaturesExtractor` on ``env``'s observations.

    Args:
        env: the environment the model trains on (a Gymnasium env or an SB3 VecEnv, flattened or not).
        hidden, layers, encoder, readout, symlog, aggr: the encoder (see :class:`~.features.GraphFeatures`).
        net_arch: SB3's layers after the extractor (SB3's default when ``None``).
        **policy_kwargs: passed on as they are (``activation_fn``, ``share_features_extractor``...).

    >>> import gymnasium as gym, netctrl
    >>> kw = graph_policy_kwargs(gym.make("netctrl/SupplyChain-1F2S-Bilevel-v0"), hidden=16)
    >>> kw["features_extractor_class"].__name__, kw["features_extractor_kwargs"]["hidden"]
    ('GraphFeaturesExtractor', 16)
    """
    extractor = dict(
        graph_space=_graph_space(env),
        encoder=encoder,
        hidden=hidden,
        layers=layers,
        aggr=aggr,
        readout=readout,
        symlog=symlog,
    )
    out: dict[str, Any] = dict(features_extractor_class=GraphFeaturesExtractor, features_extractor_kwargs=extractor)
    if net_arch is not None:
        out["net_arch"] = net_arch
    return {**out, **policy_kwargs}
