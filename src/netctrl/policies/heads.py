"""Action heads: node embeddings in, a batched action distribution out.

* :class:`DirichletHead`: a distribution over the nodes of each graph (the desired next state).
* :class:`GaussianHead`: an independent Gaussian per node (or per selected node), e.g. production.
* :class:`EdgeGaussianHead`: an independent Gaussian per edge (the naive edge-level baseline).
* :class:`CompositeHead`: several heads side by side, their actions concatenated (e.g. production per
  factory by a Gaussian, then a Dirichlet over the nodes).

Every distribution has ``sample()``, ``log_prob(a)`` (one value per graph), ``entropy()`` and ``mode()``
(the deterministic action used at evaluation: the Dirichlet or Gaussian mean).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Dirichlet, Normal

from .encoders import mlp


def reset_linears(module: nn.Module) -> None:
    """Re-initialise every ``nn.Linear`` inside ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()


class SafeDirichlet:
    """A Dirichlet whose samples stay strictly inside the simplex, so ``log_prob`` never returns NaN/inf.

    Samples are clamped to ``[eps, 1]`` and renormalised (the reference's concentration ``softplus + 1e-20``
    regularly produced exact zeros and NaN log-probabilities). ``groups`` independent Dirichlets of equal size
    can share one action vector (``(B, groups * n)``, group-major), e.g. one per commodity.
    """

    eps = 1e-6

    def __init__(self, concentration: Tensor, groups: int = 1) -> None:
        self.groups = groups
        self.concentration = concentration if groups == 1 else concentration.view(concentration.shape[0], groups, -1)
        self.dist = Dirichlet(self.concentration, validate_args=False)  # clamped; validation costs ~0.1 ms

    def _split(self, a: Tensor) -> Tensor:
        return a if self.groups == 1 else a.view(a.shape[0], self.groups, -1)

    def _join(self, a: Tensor) -> Tensor:
        return a if self.groups == 1 else a.reshape(a.shape[0], -1)

    def _total(self, v: Tensor) -> Tensor:
        return v if self.groups == 1 else v.sum(-1)

    def sample(self) -> Tensor:
        with torch.no_grad():
            a = self.dist.sample().clamp_min(self.eps)
            return self._join(a / a.sum(-1, keepdim=True))

    def log_prob(self, a: Tensor) -> Tensor:
        a = self._split(a).clamp_min(self.eps)
        return self._total(self.dist.log_prob(a / a.sum(-1, keepdim=True)))

    def entropy(self) -> Tensor:
        return self._total(self.dist.entropy())

    def mode(self) -> Tensor:
        return self._join(self.concentration / self.concentration.sum(-1, keepdim=True))


class Composite:
    """Independent distributions whose actions are concatenated along the last dimension."""

    def __init__(self, parts: list) -> None:
        self.parts = parts
        self.sizes = [p.mode().shape[-1] for p in parts]

    def sample(self) -> Tensor:
        return torch.cat([p.sample() for p in self.parts], dim=-1)

    def log_prob(self, a: Tensor) -> Tensor:
        return sum(p.log_prob(x) for p, x in zip(self.parts, torch.split(a, self.sizes, dim=-1)))

    def entropy(self) -> Tensor:
        return sum(p.entropy() for p in self.parts)

    def mode(self) -> Tensor:
        return torch.cat([p.mode() for p in self.parts], dim=-1)


class DiagGaussian:
    """Independent Gaussians over the last dimension; ``log_prob`` sums over it."""

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        self.mean, self.std = mean, std
        self.dist = Normal(mean, std, validate_args=False)

    def sample(self) -> Tensor:
        with torch.no_grad():
            return self.dist.sample()

    def log_prob(self, a: Tensor) -> Tensor:
        return self.dist.log_prob(a).sum(-1)

    def entropy(self) -> Tensor:
        return self.dist.entropy().sum(-1)

    def mode(self) -> Tensor:
        return self.mean


class DirichletHead(nn.Module):
    r"""Dirichlet over the nodes of each graph.

    Two parameterisations:

    * ``"softplus"`` (reference): :math:`\alpha_i = \mathrm{softplus}(\mathrm{MLP}(h_i)) + \alpha_{min}`.
    * ``"proportional"``: the same with the mean proportional to :math:`\mathrm{softplus}(\mathrm{MLP}(h_i))`
      instead of its exponential (no prior): a mean that is *linear* in the features is then easy to learn,
      e.g. desired stock in proportion to the demand it must cover.
    * ``"mean-precision"`` (default): :math:`\alpha = \kappa \cdot N \cdot \mathrm{softmax}_i(\mathrm{MLP}(h_i)
      + \log(p_i + \epsilon))` with a learned precision :math:`\kappa = \exp(\rho)` (learned in log space,
      so the optimiser can change it by orders of magnitude) and an
      optional prior :math:`p` read from raw node feature ``prior_feature`` (normalised over the graph),
      e.g. the current distribution of vehicles. With a prior, the initial policy's mean is "stay as you
      are" and learning moves it from there; without, the initial mean is uniform.

    Concentrations are clamped to ``[min_concentration, max_concentration]``.

    Args:
        in_channels: node embedding size.
        hidden_channels: MLP width (default 32).
        parameterization: ``"mean-precision"`` or ``"softplus"``.
        prior_feature: column of the raw node features holding the prior (``None``: uniform).
        init_precision: initial :math:`\kappa` (per node; higher means less exploration noise).
        groups: independent Dirichlets over consecutive, equal blocks of each graph's nodes (e.g. one per
            commodity when the observation stacks a copy of the graph per commodity).
        prior_eps: smoothing added to the normalised prior before its log (the initial share of a node the
            prior leaves empty): ``N * prior_eps`` of the mass leaks to such nodes, so keep it small on large
            graphs.
        prior_eps_per_graph: add ``prior_eps / N`` instead, so the smoothing keeps the same weight relative
            to the prior's average share ``1 / N`` on every graph size (with a fixed ``prior_eps`` a policy
            trained on 20 nodes leaks ten times more mass to empty nodes on 200).
        exact_prior: start the last layer at zero weights, so the initial mean is exactly the prior (default:
            small random weights, a mean near it).

    Shapes:
        - input: embeddings ``(B*N, C)``, raw features ``(B*N, F)``
        - output: distribution with batch shape ``(B,)`` and event shape ``(N,)``
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 32,
        parameterization: str = "mean-precision",
        prior_feature: int | None = None,
        init_precision: float = 10.0,
        min_concentration: float = 1e-3,
        max_concentration: float = 1e5,
        groups: int = 1,
        prior_eps: float = 1e-3,
        exact_prior: bool = False,
        prior_eps_per_graph: bool = False,
    ) -> None:
        super().__init__()
        self.exact_prior = exact_prior
        self.prior_eps_per_graph = prior_eps_per_graph
        self.groups = groups
        self.prior_eps = float(prior_eps)
        if parameterization not in ("mean-precision", "softplus", "proportional"):
            raise ValueError(f"Unknown Dirichlet parameterization {parameterization!r}")
        self.parameterization = parameterization
        self.prior_feature = prior_feature
        self.min_c, self.max_c = min_concentration, max_concentration
        self.init_precision = init_precision
        self.net = mlp([in_channels, hidden_channels, hidden_channels, 1])
        self.log_precision = nn.Parameter(torch.tensor(math.log(init_precision)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_linears(self.net)
        last = self.net[-1]
        if self.parameterization == "mean-precision":
            nn.init.zeros_(last.bias)
            last.weight.data.mul_(0.0 if self.exact_prior else 0.01)  # start at (or near) the prior, or uniform
        elif self.parameterization == "proportional":
            nn.init.constant_(last.bias, 1.0)
            last.weight.data.mul_(0.01)  # start uniform
        with torch.no_grad():
            self.log_precision.fill_(math.log(self.init_precision))

    def forward(self, h: Tensor, x: Tensor, batch_size: int) -> SafeDirichlet:
        z = self.net(h).view(batch_size * self.groups, -1)  # one row per (graph, group)
        if self.parameterization == "softplus":
            conc = F.softplus(z) + self.min_c
        elif self.parameterization == "proportional":
            share = F.softplus(z) + 1e-6
            kappa = self.log_precision.clamp(-5.0, 12.0).exp()
            conc = kappa * z.shape[-1] * share / share.sum(-1, keepdim=True)
        else:
            n = z.shape[-1]
            if self.prior_feature is not None:
                p = x[:, self.prior_feature].view(batch_size * self.groups, -1).clamp_min(0.0)
                p = p / p.sum(-1, keepdim=True).clamp_min(1e-12)
                z = z + torch.log(p + (self.prior_eps / n if self.prior_eps_per_graph else self.prior_eps))
            kappa = self.log_precision.clamp(-5.0, 12.0).exp()
            conc = kappa * n * torch.softmax(z, dim=-1)
        conc = conc.clamp(self.min_c, self.max_c).view(batch_size, -1)
        return SafeDirichlet(conc, self.groups)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameterization}, prior_feature={self.prior_feature})"


class GaussianHead(nn.Module):
    """Independent Gaussian per node (or per node flagged by a raw feature), with a state-independent log std.

    Args:
        in_channels: node embedding size.
        hidden_channels: MLP width.
        mask_feature: column of the raw node features; only nodes where it is > 0.5 carry an action (e.g. the
            "is a factory" flag); default: every node.
        init_std: initial standard deviation.
        init_mean: initial mean (the last layer starts at zero weights and this bias).
        prior_feature: column of the raw node features added to the mean, so the head learns a residual on
            it (e.g. a heuristic's production); ``None``: no prior.
        exact_prior: start the last layer at zero weights (the initial mean is exactly ``init_mean`` + prior).

    Shapes:
        - input: embeddings ``(B*N, C)``, raw features ``(B*N, F)``
        - output: distribution with batch shape ``(B,)`` and event shape ``(#selected nodes per graph,)``
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int = 32,
        mask_feature: int | None = None,
        init_std: float = 0.5,
        init_mean: float = 0.0,
        prior_feature: int | None = None,
        exact_prior: bool = False,
    ) -> None:
        super().__init__()
        self.exact_prior = exact_prior
        self.mask_feature = mask_feature
        self.prior_feature = prior_feature
        self.net = mlp([in_channels, hidden_channels, 1])
        self.log_std = nn.Parameter(torch.tensor(math.log(init_std)))
        self.init_std, self.init_mean = init_std, init_mean
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_linears(self.net)
        last = self.net[-1]
        last.weight.data.mul_(0.0 if self.exact_prior else 0.01)
        nn.init.constant_(last.bias, self.init_mean)
        nn.init.constant_(self.log_std, math.log(self.init_std))

    def forward(self, h: Tensor, x: Tensor, batch_size: int) -> DiagGaussian:
        mu = self.net(h).squeeze(-1)
        if self.prior_feature is not None:
            mu = mu + x[:, self.prior_feature]
        if self.mask_feature is not None:
            mu = mu[x[:, self.mask_feature] > 0.5]
        mu = mu.view(batch_size, -1)
        std = self.log_std.clamp(-5.0, 2.0).exp().expand_as(mu)
        return DiagGaussian(mu, std)


class EdgeGaussianHead(nn.Module):
    """Independent Gaussian per edge from ``MLP([h_src, h_dst, e])``: the naive end-to-end edge-level policy.

    Shapes:
        - input: embeddings ``(B*N, C)``, edge indices ``(2, B*E)``, edge features ``(B*E, D)``
        - output: distribution with batch shape ``(B,)`` and event shape ``(E,)``
    """

    def __init__(self, in_channels: int, edge_dim: int = 0, hidden_channels: int = 32, init_std: float = 0.5) -> None:
        super().__init__()
        self.net = mlp([2 * in_channels + edge_dim, hidden_channels, hidden_channels, 1])
        self.log_std = nn.Parameter(torch.tensor(math.log(init_std)))
        self.init_std = init_std

    def reset_parameters(self) -> None:
        reset_linears(self.net)
        nn.init.constant_(self.log_std, math.log(self.init_std))

    def forward(
        self, h: Tensor, x: Tensor, batch_size: int, edge_index: Tensor, edge_attr: Tensor | None
    ) -> DiagGaussian:
        parts = [h[edge_index[0]], h[edge_index[1]]]
        if edge_attr is not None:
            parts.append(edge_attr)
        mu = self.net(torch.cat(parts, dim=-1)).view(batch_size, -1)
        return DiagGaussian(mu, self.log_std.clamp(-5.0, 2.0).exp().expand_as(mu))


class CompositeHead(nn.Module):
    """Heads side by side; the action is their actions concatenated (in the order given).

    ``forward(h, x, B, edge_index, edge_attr)`` passes the edge arguments to the heads that take them.
    """

    def __init__(self, heads: list[nn.Module]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def reset_parameters(self) -> None:
        for head in self.heads:
            head.reset_parameters()

    def forward(self, h: Tensor, x: Tensor, batch_size: int, edge_index: Tensor, edge_attr: Tensor | None) -> Composite:
        parts = []
        for head in self.heads:
            if isinstance(head, EdgeGaussianHead):
                parts.append(head(h, x, batch_size, edge_index, edge_attr))
            else:
                parts.append(head(h, x, batch_size))
        return Composite(parts)
