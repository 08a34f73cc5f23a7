"""Per-router policies for multi-agent routing: one small MLP per router, all evaluated in one batched op.

Used by the MAMRL and independent policy-gradient learners (:mod:`netctrl.algos.mamrl`); no knowledge of any
problem: a router is an agent with integer observations and ``degree[i]`` discrete actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
from torch import nn


class RouterPolicies(nn.Module):
    """One MLP per router, all evaluated in one batched op (stacked weights, ``torch.baddbmm``).

    Router ``i`` sees its local observation ``[dest, longest-queue neighbour, last h actions]`` as one-hot
    features; the first layer is a per-router embedding table summed over those features, then ``layers``
    ReLU layers and a softmax over the router's ``degree[i]`` links (padding masked).

    Shapes:
        obs ``(N, B, 2 + h)`` integers -> logits ``(N, B, D)``.
    """

    def __init__(self, num_nodes: int, degree: Sequence[int], history: int, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.n, self.h = int(num_nodes), int(history)
        degree = torch.as_tensor(np.asarray(degree), dtype=torch.long)
        self.d = int(degree.max())
        self.register_buffer("mask", torch.arange(self.d)[None, :] < degree[:, None])  # (N, D)
        # feature offsets: dest+1 in [0, N], longest in N+1+[0, D), hist_k+1 in N+1+D+k(D+1)+[0, D]
        self.register_buffer(
            "offset", torch.tensor([0, self.n + 1] + [self.n + 1 + self.d + k * (self.d + 1) for k in range(self.h)])
        )
        self.register_buffer("shift", torch.tensor([1, 0] + [1] * self.h))
        self.num_features = self.n + 1 + self.d + self.h * (self.d + 1)
        sizes = [hidden] * layers + [self.d]
        self.embed = nn.Parameter(torch.empty(self.n, self.num_features, hidden))
        self.weights = nn.ParameterList([nn.Parameter(torch.empty(self.n, a, b)) for a, b in pairwise(sizes)])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(self.n, 1, s)) for s in sizes])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.embed, 0.0, 1.0 / np.sqrt(self.h + 2))
        for w in self.weights:
            nn.init.normal_(w, 0.0, 1.0 / np.sqrt(w.shape[1]))
        with torch.no_grad():
            self.weights[-1].mul_(0.01)  # near-uniform initial policy
            for b in self.biases:
                b.zero_()

    def params(self) -> list[torch.Tensor]:
        return [self.embed, *self.weights, *self.biases]

    def logits(
        self, obs: torch.Tensor, params: Sequence[torch.Tensor] | None = None, prior: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``(N, B, D)``; with ``prior`` ``(N, B, D')`` (next-hop probabilities, ``D' <= D``) the network is a
        residual on it: the logits are ``log prior`` plus the network's output (near 0 at initialisation, so a
        fresh policy follows the prior)."""
        embed, *rest = params if params is not None else self.params()
        k = len(self.weights)
        weights, biases = rest[:k], rest[k:]
        idx = obs + self.shift + self.offset  # (N, B, F)
        n = torch.arange(self.n)[:, None, None]
        z = torch.relu(embed[n, idx].sum(2) + biases[0])  # (N, B, hidden)
        for j, w in enumerate(weights):
            z = torch.baddbmm(biases[j + 1], z, w)
            if j < k - 1:
                z = torch.relu(z)
        if prior is not None:
            z = z + self.log_prior(prior)
        return z.masked_fill(~self.mask[:, None, :], float("-inf"))

    def log_prior(self, prior: torch.Tensor) -> torch.Tensor:
        """``log prior`` ``(N, B, D)`` of next-hop probabilities ``(N, B, D')``, padded to ``D`` links (zeros there,
        clamped at 1e-12 so that the log is finite)."""
        return torch.log(torch.nn.functional.pad(prior, (0, self.d - prior.shape[-1])).clamp(min=1e-12))

    def __repr__(self) -> str:
        return (
            f"RouterPolicies(routers={self.n}, actions<={self.d}, features={self.num_features}, "
            f"hidden={self.biases[0].shape[-1]}x{len(self.weights)})"
        )
