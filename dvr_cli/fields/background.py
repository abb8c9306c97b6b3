"""What a ray sees past the unit cube when no mask tells the object from its surroundings.

One learned colour per training image, b_v = sigmoid(beta_v): the simplest background model that
absorbs each photo's own exposure of a plain backdrop. The volume renderer composites it behind
the cube (render/volume.py: C = sum_i w_i c_i + (1 - acc) b_v).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# Starting colours are clamped into [EDGE, 1 - EDGE] so their logit is finite.
EDGE = 0.02


class Background(nn.Module):
    """colours: (V, 3) starting colours in [0, 1], one per training image (e.g. its median)."""

    def __init__(self, colours: np.ndarray | torch.Tensor):
        super().__init__()
        start = torch.as_tensor(np.asarray(colours), dtype=torch.float32).clamp(EDGE, 1.0 - EDGE)
        if start.ndim != 2 or start.shape[1] != 3:
            raise ValueError(f"colours must be (V, 3), got {tuple(start.shape)}")
        self.logits = nn.Parameter(torch.logit(start))

    def forward(self, view_index: torch.Tensor) -> torch.Tensor:
        """view_index: (N,) long, each ray's training image -> (N, 3) its background colour."""
        return torch.sigmoid(self.logits[view_index])


def median_colours(images: list[np.ndarray]) -> np.ndarray:
    """(V, 3) the median colour of each (H, W, 3) image: most of a photo around an object is backdrop."""
    return np.stack([np.median(image.reshape(-1, 3), axis=0) for image in images]).astype(np.float32)
