"""What the model takes: the rays of one fitting step and what they should see (fit/sampler.py draws them)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class RayBatch:
    """The rays of one step, all in the unit frame, all crossing the unit cube.

    Attributes:
        origins: (N, 3) ray origins (camera centres).
        dirs: (N, 3) unit ray directions.
        rgb: (N, 3) target colour of each ray's pixel, in [0, 1].
        mask: (N,) bool, the pixel lies inside the object mask; None when the views have no masks.
        depth: (N,) target ray length in the unit frame (0 = unknown), or None when no view has depth.
        random_points: (N, 3) a uniform random point on each ray's segment inside the cube.
        view_index: (N,) long, index of the ray's view in the sampler's view list.
        pixels: (N, 2) float pixel coordinates (u, v) = (column, row).
        free_points: (S, 3) points known to be empty (on sight lines to sparse points), or None.
        solid_points: (S, 3) points known to be inside (just behind those sparse points), or None.
        mask_known: (N,) bool, the mask's label is sure at the ray's pixel (derived masks, see
            ``RaySampler.use_masks``), or None: sure everywhere.
    """

    origins: torch.Tensor
    dirs: torch.Tensor
    rgb: torch.Tensor
    mask: torch.Tensor | None
    depth: torch.Tensor | None
    random_points: torch.Tensor
    view_index: torch.Tensor
    pixels: torch.Tensor
    free_points: torch.Tensor | None = None
    solid_points: torch.Tensor | None = None
    mask_known: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.origins.shape[0]
