"""The colour a ray sees past the cube, from a background model of fields/background.py.

The environment map and the per-photo colour are read at the ray's direction; the inverted-sphere
field is volume-rendered over its samples in inverse distance (``composite``), the last one opaque
(the shell past it reaches to infinity), so each ray ends on the background. The foreground's
compositing puts the result behind the cube: C = sum_i w_i c_i + (1 - acc) C_background.
"""

from __future__ import annotations

import torch
from torch import nn

from ..fields.background import InvertedSphereField
from .volume import composite


def ray_background(
    model: nn.Module,
    origins: torch.Tensor,
    dirs: torch.Tensor,
    view_index: torch.Tensor | None,
    n_samples: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(N, 3) the background colour of N rays o + t w (unit frame, w unit-norm).

    view_index: (N,) long, each ray's training photo, or None (a held-out or novel view: the mean
    exposure); n_samples: the field's samples per ray, stratified with ``generator`` (bin centres
    without one, as a render wants: the same image every time).
    """
    if not isinstance(model, InvertedSphereField):
        return model(dirs, view_index)
    t = model.ray_samples(origins, dirs, n_samples, generator)
    points = (origins[:, None, :] + t[..., None] * dirs[:, None, :]).reshape(-1, 3)
    logits, colours = model(points)
    alphas = torch.sigmoid(logits).view(t.shape)
    alphas = torch.cat([alphas[:, :-1], torch.ones_like(alphas[:, -1:])], dim=1)
    return composite(alphas, colours.view(*t.shape, 3))["rgb"]
