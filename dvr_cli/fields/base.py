"""The interface every field backbone implements; the renderer knows nothing else."""

from __future__ import annotations

import torch
from torch import nn


class Field(nn.Module):
    """Occupancy f(p) and texture t(p) over the unit cube [-1, 1]^3.

    Occupancy is returned as a logit: f(p) = sigmoid(logit). The surface is f = tau, i.e.
    logit = log(tau / (1 - tau)) (0 for tau = 0.5). Inside the object f > tau.
    """

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) in the unit cube -> (N,) occupancy logits."""
        raise NotImplementedError

    def texture(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) -> (N, 3) RGB in [0, 1]."""
        raise NotImplementedError

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points: (N, 3) -> (logits (N,), rgb (N, 3)); backbones override to share features."""
        return self.occupancy_logits(points), self.texture(points)
