"""Graph encoders: node embeddings from node features, edges and edge features (PyG layers).

Every encoder returns ``cat([h, x])``: the learned embedding next to the raw node features, so heads can
read the raw state (the reference study's actors do the same, by a residual or a concatenation).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.typing import Adj, OptTensor


def mlp(sizes: list[int], act: type[nn.Module] = nn.ReLU, last_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2 or last_act:
            layers.append(act())
    return nn.Sequential(*layers)


class GCNEncoder(nn.Module):
    r"""Stack of graph convolutions (Kipf & Welling, ICLR 2017, https://arxiv.org/abs/1609.02907) with
    residual connections, as the reference study's mobility actor (one ``GCNConv`` + ReLU + residual).

    .. math::
        \mathbf{h}^{(l+1)} = \mathrm{ReLU}\big(\hat{D}^{-1/2}\hat{A}\hat{D}^{-1/2}\mathbf{h}^{(l)}\Theta^{(l)}\big)
        + \mathbf{h}^{(l)} W^{(l)}

    Edge features are ignored (GCN has only a scalar edge weight; use :class:`EdgeConvEncoder` for them).
    The normalised adjacency is computed once per forward pass for all layers (PyG's ``gcn_norm``) and reused
    while the same graph (batch) comes back, which is what a control loop and fixed-graph minibatches do.

    Args:
        in_channels: node feature size ``F``.
        hidden_channels: embedding size ``H`` (default 64).
        num_layers: number of convolutions (default 2).

    Shapes:
        - input: node features ``(|V|, F)``, edge indices ``(2, |E|)``
        - output: ``(|V|, H + F)``
    """

    def __init__(
        self, in_channels: int, hidden_channels: int = 64, num_layers: int = 2, edge_dim: int | None = None
    ) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.num_layers = in_channels, hidden_channels, num_layers
        self.convs = nn.ModuleList()
        self.skips = nn.ModuleList()
        d = in_channels
        for _ in range(num_layers):
            self.convs.append(GCNConv(d, hidden_channels, normalize=False))
            self.skips.append(nn.Linear(d, hidden_channels, bias=False) if d != hidden_channels else nn.Identity())
            d = hidden_channels
        self.out_channels = hidden_channels + in_channels
        self._norm_cache: dict = {}

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        for s in self.skips:
            if isinstance(s, nn.Linear):
                s.reset_parameters()

    def _normalized(self, edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
        key = (num_nodes, edge_index.shape[1])
        hit = self._norm_cache.get(key)
        if hit is not None and torch.equal(hit[0], edge_index):
            return hit[1], hit[2]
        ei, w = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
        if len(self._norm_cache) > 8:
            self._norm_cache.clear()
        self._norm_cache[key] = (edge_index, ei, w)
        return ei, w

    def forward(self, x: Tensor, edge_index: Adj, edge_attr: OptTensor = None) -> Tensor:
        ei, w = self._normalized(edge_index, x.shape[0])
        h = x
        for conv, skip in zip(self.convs, self.skips):
            h = torch.relu(conv(h, ei, w)) + skip(h)
        return torch.cat([h, x], dim=-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, num_layers={self.num_layers})"


class EdgeConditionedConv(MessagePassing):
    r"""Edge-conditioned message passing (the reference study's supply-chain "EdgeConv"; Gilmer et al., ICML
    2017, https://arxiv.org/abs/1704.01212): messages are an MLP of both end nodes and the edge features.

    .. math::
        \mathbf{x}'_i = \mathbf{x}_i W + \bigoplus_{j \in \mathcal{N}(i)}
        \mathrm{MLP}\big([\mathbf{x}_i, \mathbf{x}_j, \mathbf{e}_{j,i}]\big)

    Args:
        in_channels: node feature size.
        out_channels: output size.
        edge_dim: edge feature size (0 for none).
        aggr: ``"add"`` (reference), ``"mean"``, ``"max"`` or ``"min"``.

    Shapes:
        - input: node features ``(|V|, F_in)``, edge indices ``(2, |E|)``, edge features ``(|E|, D)``
        - output: ``(|V|, F_out)``
    """

    def __init__(self, in_channels: int, out_channels: int, edge_dim: int = 0, aggr: str = "add") -> None:
        super().__init__(aggr=aggr)
        self.in_channels, self.out_channels, self.edge_dim = in_channels, out_channels, edge_dim
        self.message_mlp = mlp([2 * in_channels + edge_dim, out_channels, out_channels])
        self.root = nn.Linear(in_channels, out_channels)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for m in [*self.message_mlp, self.root]:
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, edge_attr: OptTensor = None) -> Tensor:
        return self.root(x) + self.propagate(edge_index, x=x, edge_attr=edge_attr)

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: OptTensor) -> Tensor:
        parts = [x_i, x_j] if edge_attr is None or self.edge_dim == 0 else [x_i, x_j, edge_attr]
        return self.message_mlp(torch.cat(parts, dim=-1))

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.in_channels}, {self.out_channels}, edge_dim={self.edge_dim}, aggr={self.aggr})"


class EdgeConvEncoder(nn.Module):
    """Stack of :class:`EdgeConditionedConv` layers with ReLU and residual connections.

    Args:
        in_channels: node feature size ``F``.
        hidden_channels: embedding size ``H`` (default 64).
        num_layers: number of layers (default 2).
        edge_dim: edge feature size ``D``.
        aggr: neighbourhood aggregation (default ``"add"``).

    Shapes:
        - input: node features ``(|V|, F)``, edge indices ``(2, |E|)``, edge features ``(|E|, D)``
        - output: ``(|V|, H + F)``
    """

    def __init__(
        self, in_channels: int, hidden_channels: int = 64, num_layers: int = 2, edge_dim: int = 0, aggr: str = "add"
    ) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.num_layers = in_channels, hidden_channels, num_layers
        self.convs = nn.ModuleList()
        d = in_channels
        for _ in range(num_layers):
            self.convs.append(EdgeConditionedConv(d, hidden_channels, edge_dim=edge_dim, aggr=aggr))
            d = hidden_channels
        self.out_channels = hidden_channels + in_channels

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj, edge_attr: OptTensor = None) -> Tensor:
        h = x
        for k, conv in enumerate(self.convs):
            out = torch.relu(conv(h, edge_index, edge_attr))
            h = out + h if k > 0 else out
        return torch.cat([h, x], dim=-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, num_layers={self.num_layers})"


ENCODERS = {"gcn": GCNEncoder, "edgeconv": EdgeConvEncoder}


def get_encoder(name: str, **kwargs) -> nn.Module:
    """Build an encoder by name (``gcn``, ``edgeconv``)."""
    key = name.lower().replace("-", "").replace("_", "")
    if key not in ENCODERS:
        raise ValueError(f"Unknown encoder {name!r}; choose one of {sorted(ENCODERS)}")
    return ENCODERS[key](**kwargs)
