"""``GraphFeatures``: netctrl's graph encoders on a library's batched graph observations, as one flat vector.

Libraries such as Stable-Baselines3 and TorchRL put a flat action head on a fixed-size feature vector. This
module is the shared piece: it takes the observation as the library hands it over (the ``Dict`` of
``x`` / ``edge_index`` / ``edge_attr`` with any leading batch dimensions and any dtype, or its flattened form),
rebuilds one disjoint PyG graph of the batch, runs a netctrl encoder (:mod:`netctrl.policies.encoders`) and
reads the node embeddings out per graph.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..bilevel import GraphLayout
from ..policies.actor_critic import symlog, to_graph_batch
from ..policies.encoders import get_encoder

READOUTS = ("nodes", "sum", "mean", "max")


class GraphFeatures(nn.Module):
    r"""A netctrl graph encoder with a fixed-size readout.

    .. math::
        \mathbf{z} = \mathrm{readout}\big(\mathrm{encoder}(X, \mathcal{E}, E_{attr})\big), \qquad
        \mathrm{encoder}(\cdot)_i = [\mathbf{h}_i, \mathbf{x}_i]

    Args:
        layout: where the observation's arrays lie (:class:`~netctrl.bilevel.GraphLayout`).
        encoder: ``gcn`` or ``edgeconv``; ``None`` (default) picks ``edgeconv`` when the observation has edge
            features, else ``gcn``.
        hidden: embedding width ``H`` (default 64).
        layers: message-passing layers (default 2).
        aggr: neighbourhood aggregation of ``edgeconv`` (default ``"add"``).
        readout: ``"nodes"`` (default): every node's embedding, concatenated in node order, so a flat action
            head can still tell the nodes apart (the bi-level actions are one entry per node); or ``"sum"``,
            ``"mean"``, ``"max"`` over the nodes (size independent of the graph, no per-node information).
        symlog: the encoder reads ``sign(v) log(1 + |v|)`` of every feature (counts that grow with the graph).

    Shapes:
        - input: ``{"x": (*B, N, F), "edge_index": (*B, 2, E), "edge_attr": (*B, E, D)}`` (edge indices may be
          floats, as after a library's preprocessing: they are rounded), or flat ``(*B, layout.size)``
        - output: ``(*B, features_dim)``, ``features_dim = N * (H + F)`` for ``"nodes"``, ``H + F`` otherwise
    """

    def __init__(
        self,
        layout: GraphLayout,
        encoder: str | None = None,
        hidden: int = 64,
        layers: int = 2,
        aggr: str = "add",
        readout: str = "nodes",
        symlog: bool = False,
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"Expected 'readout' in {READOUTS} (got {readout!r})")
        if hidden <= 0 or layers <= 0:
            raise ValueError(f"Expected 'hidden' and 'layers' > 0 (got {hidden}, {layers})")
        self.layout = layout
        self.encoder_name = encoder or ("edgeconv" if layout.edge_features else "gcn")
        kwargs: dict[str, Any] = dict(in_channels=layout.node_features, hidden_channels=hidden, num_layers=layers)
        if self.encoder_name.lower().replace("-", "").replace("_", "") == "edgeconv":
            kwargs.update(edge_dim=layout.edge_features, aggr=aggr)
        encoder_module: Any = get_encoder(self.encoder_name, **kwargs)  # a GCN or EdgeConv encoder (out_channels)
        self.encoder = encoder_module
        self.readout, self.symlog = readout, symlog
        width = int(encoder_module.out_channels)
        self.features_dim: int = layout.nodes * width if readout == "nodes" else width

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()

    def forward(self, obs: dict[str, Tensor] | Tensor) -> Tensor:
        if isinstance(obs, Tensor):
            obs = self.layout.unflatten(obs)
        x = obs["x"]
        lead = tuple(x.shape[:-2])
        N, F = self.layout.nodes, self.layout.node_features
        ei = obs["edge_index"]
        if ei.is_floating_point():
            ei = torch.round(ei)
        graph = {"x": x.reshape(-1, N, F).float(), "edge_index": ei.reshape(-1, 2, self.layout.edges).long()}
        if self.layout.edge_features and "edge_attr" in obs:
            graph["edge_attr"] = obs["edge_attr"].reshape(-1, self.layout.edges, self.layout.edge_features).float()
        xb, edge_index, edge_attr, _, B = to_graph_batch(graph)
        if self.symlog:
            xb = symlog(xb)
            edge_attr = None if edge_attr is None else symlog(edge_attr)
        h = self.encoder(xb, edge_index, edge_attr).reshape(B, N, -1)
        if self.readout == "nodes":
            z = h.reshape(B, -1)
        elif self.readout == "sum":
            z = h.sum(dim=1)
        elif self.readout == "mean":
            z = h.mean(dim=1)
        else:
            z = h.amax(dim=1)
        return z.reshape(*lead, -1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.encoder!r}, readout={self.readout!r}, features_dim={self.features_dim})"
