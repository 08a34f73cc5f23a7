"""Graph value networks: a GIN over a state graph that predicts a state's value (e.g. for multilevel games).

Used by the MultiL-Cur and MultiL-DQN learners (:mod:`netctrl.algos.curriculum`); no knowledge of any problem.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

READOUTS = ("sum", "mean", "capsum")
"""pooling of :class:`ValueNet`'s read-out"""
SUM_CAP = 20
"""graph size (nodes) beyond which the ``"capsum"`` read-out scales its sums down (the largest training graphs)"""


class ValueNet(nn.Module):
    """GIN value network over a state graph: predicts the saved fraction ``y`` in ``[0, 1]`` of the graph's
    nodes, so that the state's value is ``offset + size * y``.

    .. math::  h^{(l+1)} = h^{(l)} + \\mathrm{MLP}\\big((1 + \\epsilon) h^{(l)}_i + \\sum_{j \\in N(i)} h^{(l)}_j\\big),
               \\quad y = \\sigma\\big(\\mathrm{MLP}[\\textstyle\\sum_i h_i / 10, \\mathrm{mean}_i h_i, \\max_i h_i,
               \\sum_i x_i / 10, \\max_i x_i, u]\\big)

    Args:
        node_features: input features per node.
        graph_features: graph-level features ``u`` (budgets, stage), concatenated to every node's input and to
            the read-out.
        hidden: embedding width (64).
        layers: message-passing layers (4).
        readout: ``"sum"`` (the sums ``/ 10`` above, which grow with the graph), ``"mean"`` (means in their
            place, so that no read-out input grows with the graph; for size-invariant features) or ``"capsum"``
            (the sums ``/ 10`` times ``min(1, SUM_CAP / nodes)``: the plain sums on graphs of up to
            :data:`SUM_CAP` nodes, ``SUM_CAP / 10`` times the means on larger ones, so that the read-out never
            leaves the range of the 10-20-node training graphs; the network predicts a fraction of the graph).

    Shapes:
        input: ``batch`` with ``x (N, node_features)``, ``edge_index (2, E)``, ``u (G, graph_features)``, ``batch (N,)``
        output: ``(G,)``
    """

    def __init__(
        self, node_features: int, graph_features: int, hidden: int = 64, layers: int = 4, readout: str = "sum"
    ):
        super().__init__()
        from torch_geometric.nn import GINConv

        if readout not in READOUTS:
            raise ConfigError(f"Expected 'readout' in {READOUTS} (got {readout!r})")
        self.node_features, self.graph_features, self.hidden, self.num_layers = (
            node_features,
            graph_features,
            hidden,
            layers,
        )
        self.readout = readout
        self.inp = nn.Linear(node_features + graph_features, hidden)
        self.convs = nn.ModuleList(
            GINConv(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)), train_eps=True)
            for _ in range(layers)
        )
        self.out = nn.Sequential(
            nn.Linear(3 * hidden + 2 * node_features + graph_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()

    def forward(self, batch) -> torch.Tensor:
        from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

        x, ei, b, u = batch.x, batch.edge_index, batch.batch, batch.u
        h = torch.relu(self.inp(torch.cat([x, u[b]], dim=1)))
        for conv in self.convs:
            h = h + torch.relu(conv(h, ei))
        if self.readout == "sum":
            hs, xs = global_add_pool(h, b) / 10.0, global_add_pool(x, b) / 10.0
        elif self.readout == "capsum":
            hs, xs = global_add_pool(h, b), global_add_pool(x, b)
            nodes = torch.bincount(b, minlength=hs.shape[0]).to(hs.dtype).clamp(min=1.0)
            scale = (SUM_CAP / nodes).clamp(max=1.0).unsqueeze(1) / 10.0
            hs, xs = hs * scale, xs * scale
        else:
            hs, xs = global_mean_pool(h, b), global_mean_pool(x, b)
        pooled = torch.cat([hs, global_mean_pool(h, b), global_max_pool(h, b), xs, global_max_pool(x, b), u], dim=1)
        return torch.sigmoid(self.out(pooled)).squeeze(-1)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.node_features}+{self.graph_features}, hidden={self.hidden}, "
            f"layers={self.num_layers}, readout={self.readout})"
        )
