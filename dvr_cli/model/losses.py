"""The loss terms of multi-view DVR, as pure functions over one step's rays.

Every term is a sum over the rays it applies to (``select``) divided by the number of rays in
the step, N, as in DVR's code: a term's weight then grows with the share of rays it concerns,
and a term with no rays is exactly 0 (no NaN from an empty mean).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _check(select: torch.Tensor, n: int, name: str) -> None:
    if select.dtype != torch.bool or select.shape != (n,):
        raise ValueError(f"{name}: select must be a ({n},) bool tensor, got {select.dtype} {tuple(select.shape)}")


def rgb_loss(rgb_pred: torch.Tensor, rgb_target: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Photo-consistency: sum_{i in select} sum_c |rgb_pred[i, c] - rgb_target[i, c]| / N.

    rgb_pred, rgb_target: (N, 3); select: (N,) bool (rays that hit the surface inside the mask).
    """
    if rgb_pred.shape != rgb_target.shape or rgb_pred.ndim != 2:
        raise ValueError(f"rgb_loss: shapes {tuple(rgb_pred.shape)} and {tuple(rgb_target.shape)} differ")
    _check(select, rgb_pred.shape[0], "rgb_loss")
    return (rgb_pred[select] - rgb_target[select]).abs().sum() / max(rgb_pred.shape[0], 1)


def _bce(logits: torch.Tensor, target: float, select: torch.Tensor, name: str) -> torch.Tensor:
    if logits.ndim != 1:
        raise ValueError(f"{name}: logits must be (N,), got {tuple(logits.shape)}")
    _check(select, logits.shape[0], name)
    chosen = logits[select]
    bce = F.binary_cross_entropy_with_logits(chosen, torch.full_like(chosen, target), reduction="sum")
    return bce / max(logits.shape[0], 1)


def freespace_loss(logits: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Rays outside the mask must see no surface: sum_{select} -log(1 - sigmoid(logit)) / N.

    logits: (N,) occupancy logits at each ray's probe point (the predicted surface point if
    the ray hit, else a random point of its segment in the cube); select: (N,) bool.
    """
    return _bce(logits, 0.0, select, "freespace_loss")


def occupancy_loss(logits: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """In-mask rays that missed must meet the object: sum_{select} -log(sigmoid(logit)) / N.

    logits: (N,) occupancy logits at a random point of each ray's segment in the cube;
    select: (N,) bool (rays inside the mask with no predicted surface).
    """
    return _bce(logits, 1.0, select, "occupancy_loss")


def sight_line_loss(free_logits: torch.Tensor, solid_logits: torch.Tensor) -> torch.Tensor:
    """Points between a camera and a sparse point it sees are empty, the point's far side is not:
    mean -log(1 - sigmoid(free)) + mean -log(sigmoid(solid)).

    free_logits, solid_logits: (S,) occupancy logits at points drawn on those segments and just
    behind their sparse points. Means, not sums over the step's rays: the term's weight does not
    depend on how many rays the step draws.
    """
    every = torch.ones_like(free_logits, dtype=torch.bool)
    return _bce(free_logits, 0.0, every, "sight_line_loss") + _bce(solid_logits, 1.0, every, "sight_line_loss")


def normal_loss(normals: torch.Tensor, normals_jittered: torch.Tensor, n_rays: int) -> torch.Tensor:
    """Smoothness: sum_i ||n(p_i) - n(p_i + eps * noise_i)||_2 / N.

    normals, normals_jittered: (M, 3) unit normals at the M surface points and at jittered
    copies; n_rays: N, the step's ray count.
    """
    if normals.shape != normals_jittered.shape or normals.ndim != 2 or normals.shape[1] != 3:
        raise ValueError(
            f"normal_loss: shapes {tuple(normals.shape)} and {tuple(normals_jittered.shape)} must be (M, 3)"
        )
    return (normals - normals_jittered).norm(dim=1).sum() / max(n_rays, 1)


def depth_loss(depth_pred: torch.Tensor, depth_target: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
    """Depth supervision: sum_{select} |depth_pred - depth_target| / N.

    depth_pred, depth_target: (N,) ray lengths in the unit frame; select: (N,) bool (rays that
    hit and have a known target, i.e. depth_target > 0).
    """
    if depth_pred.shape != depth_target.shape or depth_pred.ndim != 1:
        raise ValueError(f"depth_loss: shapes {tuple(depth_pred.shape)} and {tuple(depth_target.shape)} must be (N,)")
    _check(select, depth_pred.shape[0], "depth_loss")
    return (depth_pred[select] - depth_target[select]).abs().sum() / max(depth_pred.shape[0], 1)
