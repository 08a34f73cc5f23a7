"""Graph actor-critic: separate actor and critic networks over the same graph observation.

Observations are the environments' ``Dict`` of fixed-shape arrays (``x``: node features, ``edge_index``,
``edge_attr``), batched along a leading dimension. :func:`to_graph_batch` turns such a batch into one
disjoint PyG graph (node offsets added to the edge indices), which is what every encoder consumes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

from ..controllers import Controller
from ..errors import ActionError
from .encoders import get_encoder, mlp
from .heads import CompositeHead, DirichletHead, EdgeGaussianHead, GaussianHead

HEADS = ("dirichlet", "gaussian", "edge-gaussian", "gaussian+dirichlet", "gaussian+edge-gaussian")


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture of a :class:`GraphActorCritic`."""

    encoder: str = "gcn"
    """graph encoder: ``gcn`` or ``edgeconv``."""
    hidden: int = 64
    """embedding width of the encoders."""
    layers: int = 2
    """message-passing layers per encoder."""
    aggr: str = "add"
    """neighbourhood aggregation of ``edgeconv``."""
    head: str = "dirichlet"
    """action head: ``dirichlet`` (desired distribution), ``gaussian`` (per node), ``edge-gaussian``, or two
    of them side by side: ``gaussian+dirichlet``, ``gaussian+edge-gaussian`` (Gaussian part first)."""
    head_hidden: int = 32
    """width of the head MLP."""
    parameterization: str = "mean-precision"
    """Dirichlet parameterisation: ``mean-precision``, ``proportional`` or ``softplus`` (reference)."""
    prior_feature: int | None = None
    """node feature holding the Dirichlet prior (e.g. current vehicles), ``None`` for uniform."""
    prior_eps: float = 1e-3
    """smoothing of the prior (share given to a node the prior leaves empty); keep ``N * prior_eps`` small."""
    prior_eps_per_graph: bool = False
    """smooth the prior by ``prior_eps / N`` per node instead (the same leak on every graph size)."""
    init_precision: float = 10.0
    """initial Dirichlet precision per node (mean-precision parameterisation)."""
    dirichlet_groups: int = 1
    """independent Dirichlets over equal consecutive blocks of nodes (one per commodity)."""
    init_std: float = 0.5
    """initial standard deviation of Gaussian heads."""
    gaussian_mask_feature: int | None = None
    """raw node feature flagging the nodes that carry a Gaussian action (``None``: every node)."""
    gaussian_init_mean: float = 0.0
    """initial mean of the Gaussian head (added to the prior, if any)."""
    gaussian_prior_feature: int | None = None
    """raw node feature added to the Gaussian mean (a residual policy on it, e.g. a heuristic's production)."""
    exact_prior: bool = False
    """heads start exactly at their priors (zero last-layer weights) instead of near them."""
    critic_pool: str = "sum"
    """graph pooling of the critic: ``sum`` (reference), ``mean`` or ``max``."""
    bidirectional: bool = False
    """let the encoders pass messages both ways along every edge (reverse copies carry the same edge
    features plus a direction flag), as the reference supply-chain actor does; heads keep the real edges."""
    symlog_inputs: bool = False
    """encoders read ``sign(v) * log(1 + |v|)`` of every node and edge feature (heads still read the raw
    features, e.g. their priors): counts and capacities that grow with the graph (queues near a sink of a
    500-node graph are ten times those of a 20-node one) stay near the range seen in training."""

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"Expected 'head' in {HEADS} (got {self.head!r})")
        if self.critic_pool not in ("sum", "mean", "max"):
            raise ValueError(f"Expected 'critic_pool' in ('sum', 'mean', 'max') (got {self.critic_pool!r})")
        if self.hidden <= 0 or self.layers <= 0:
            raise ValueError(f"Expected 'hidden' and 'layers' > 0 (got {self.hidden}, {self.layers})")


def to_graph_batch(obs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor | None, Tensor, int]:
    """Batched observation -> ``(x, edge_index, edge_attr, batch, B)`` of one disjoint graph."""
    x = obs["x"]
    if x.dim() == 2:
        obs = {k: v.unsqueeze(0) for k, v in obs.items()}
        x = obs["x"]
    B, N, _ = x.shape
    ei = obs["edge_index"].long()
    offsets = (torch.arange(B, device=x.device) * N).view(B, 1, 1)
    edge_index = (ei + offsets).permute(1, 0, 2).reshape(2, -1)
    ea = obs.get("edge_attr")
    edge_attr = None if ea is None else _floating(ea.reshape(-1, ea.shape[-1]))
    batch = torch.arange(B, device=x.device).repeat_interleave(N)
    return _floating(x.reshape(B * N, -1)), edge_index, edge_attr, batch, B


def _floating(t: Tensor) -> Tensor:
    return t if t.is_floating_point() else t.float()


def symlog(t: Tensor) -> Tensor:
    """``sign(t) * log(1 + |t|)``: identity near 0, logarithmic for large magnitudes."""
    return torch.sign(t) * torch.log1p(t.abs())


def obs_to_tensors(obs: dict[str, Any], device: str | torch.device = "cpu") -> dict[str, Tensor]:
    return {k: torch.as_tensor(np.asarray(v), device=device) for k, v in obs.items()}


class GraphActorCritic(nn.Module):
    """Separate actor and critic, each a graph encoder; the actor ends in an action head.

    Args:
        node_features: ``F``, size of ``obs['x']``'s last dimension.
        edge_features: ``D``, size of ``obs['edge_attr']``'s last dimension (0 if none).
        cfg: the architecture.
    """

    def __init__(self, node_features: int, edge_features: int, cfg: PolicyConfig = PolicyConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.node_features, self.edge_features = node_features, edge_features
        enc = dict(in_channels=node_features, hidden_channels=cfg.hidden, num_layers=cfg.layers)
        if cfg.encoder == "edgeconv":
            enc.update(edge_dim=edge_features + (1 if cfg.bidirectional else 0), aggr=cfg.aggr)
        self.actor_encoder = get_encoder(cfg.encoder, **enc)
        self.critic_encoder = get_encoder(cfg.encoder, **enc)
        c = self.actor_encoder.out_channels
        make = {
            "dirichlet": lambda: DirichletHead(
                c,
                cfg.head_hidden,
                cfg.parameterization,
                cfg.prior_feature,
                cfg.init_precision,
                groups=cfg.dirichlet_groups,
                prior_eps=cfg.prior_eps,
                exact_prior=cfg.exact_prior,
                prior_eps_per_graph=cfg.prior_eps_per_graph,
            ),
            "gaussian": lambda: GaussianHead(
                c,
                cfg.head_hidden,
                cfg.gaussian_mask_feature,
                cfg.init_std,
                cfg.gaussian_init_mean,
                cfg.gaussian_prior_feature,
                cfg.exact_prior,
            ),
            "edge-gaussian": lambda: EdgeGaussianHead(c, edge_features, cfg.head_hidden, cfg.init_std),
        }
        parts = [make[name]() for name in cfg.head.split("+")]
        self.head = parts[0] if len(parts) == 1 else CompositeHead(parts)
        self.critic_node = mlp([c, cfg.hidden, cfg.hidden], last_act=True)
        self.critic_out = mlp([cfg.hidden, cfg.hidden, 1])
        self._pool = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}[cfg.critic_pool]

    @classmethod
    def for_space(cls, observation_space, cfg: PolicyConfig = PolicyConfig()) -> GraphActorCritic:
        """Build for a netctrl graph observation space (``Dict`` with ``x`` and ``edge_attr``)."""
        F = observation_space["x"].shape[-1]
        D = observation_space["edge_attr"].shape[-1] if "edge_attr" in observation_space.spaces else 0
        return cls(F, D, cfg)

    def actor_parameters(self) -> list[nn.Parameter]:
        return list(self.actor_encoder.parameters()) + list(self.head.parameters())

    def critic_parameters(self) -> list[nn.Parameter]:
        return [*self.critic_encoder.parameters(), *self.critic_node.parameters(), *self.critic_out.parameters()]

    def _message_graph(self, ei: Tensor, ea: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """The edges the encoders pass messages along (both directions when ``bidirectional``)."""
        if not self.cfg.bidirectional:
            return ei, ea
        ei2 = torch.cat([ei, ei.flip(0)], dim=1)
        if ea is None:
            return ei2, None
        flag = torch.cat([torch.ones(ea.shape[0], 1, dtype=ea.dtype), -torch.ones(ea.shape[0], 1, dtype=ea.dtype)])
        return ei2, torch.cat([torch.cat([ea, ea]), flag], dim=1)

    def _inputs(self, x: Tensor, ei: Tensor, ea: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """What the encoders read: ``(x, edge_index, edge_attr)``, transformed and message graph built."""
        if self.cfg.symlog_inputs:
            x = symlog(x)
            ea = None if ea is None else symlog(ea)
        return (x, *self._message_graph(ei, ea))

    def distribution(self, obs: dict[str, Tensor]):
        x, ei, ea, _, B = to_graph_batch(obs)
        h = self.actor_encoder(*self._inputs(x, ei, ea))
        if isinstance(self.head, (EdgeGaussianHead, CompositeHead)):
            return self.head(h, x, B, ei, ea)
        return self.head(h, x, B)

    def value(self, obs: dict[str, Tensor]) -> Tensor:
        x, ei, ea, batch, B = to_graph_batch(obs)
        h = self.critic_node(self.critic_encoder(*self._inputs(x, ei, ea)))
        return self.critic_out(self._pool(h, batch, size=B)).view(B)

    def evaluate_actions(self, obs: dict[str, Tensor], actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(log_prob, entropy, value)`` of ``actions`` under the current policy."""
        dist = self.distribution(obs)
        return dist.log_prob(actions), dist.entropy(), self.value(obs)

    @torch.no_grad()
    def act(self, obs: dict[str, Tensor], deterministic: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """``(action, log_prob, value)`` for a batch of observations."""
        dist = self.distribution(obs)
        a = dist.mode() if deterministic else dist.sample()
        return a, dist.log_prob(a), self.value(obs)

    def config_dict(self) -> dict:
        return {"node_features": self.node_features, "edge_features": self.edge_features, **asdict(self.cfg)}

    @classmethod
    def from_config_dict(cls, d: dict) -> GraphActorCritic:
        d = dict(d)
        return cls(d.pop("node_features"), d.pop("edge_features"), PolicyConfig(**d))


class PolicyController(Controller):
    """A trained :class:`GraphActorCritic` behind the shared controller interface.

    Args:
        model: the policy.
        lower: the lower level the action goes through (``"lp"`` for bi-level agents, ``"edge-share"`` for
            the naive edge-level agent of mobility, ``None`` for raw edge actions).
        deterministic: act with the distribution's mode (the reference evaluates with the Dirichlet mean).
        name: label in tables.
    """

    def __init__(
        self, model: GraphActorCritic, lower: str | None = "lp", deterministic: bool = True, name: str = "bilevel"
    ) -> None:
        self.model = model.eval()
        self.lower = lower
        self.deterministic = deterministic
        self.name = name

    def bind(self, env) -> None:
        """Check that the environment's observations are the ones the policy reads."""
        space = getattr(env, "observation_space", None)
        spaces = getattr(space, "spaces", {})
        for key, want in (("x", self.model.node_features), ("edge_attr", self.model.edge_features)):
            if key in spaces and spaces[key].shape[-1] != want:
                from ..errors import CheckpointError

                raise CheckpointError(
                    f"policy {self.name!r} reads {want} features per {'node' if key == 'x' else 'edge'}, "
                    f"but this environment's '{key}' has {spaces[key].shape[-1]}: it was trained "
                    "on another kind of network or observation"
                )

    @torch.no_grad()
    def act(self, observation) -> np.ndarray:
        dist = self.model.distribution(obs_to_tensors(observation))
        a = (dist.mode() if self.deterministic else dist.sample())[0].cpu().numpy()
        if not np.all(np.isfinite(a)):
            raise ActionError(f"policy {self.name!r} produced NaN/inf actions (diverged or corrupt weights)")
        return a
