"""Filling the hollows of a field before meshing: empty space that no ray from outside can reach.

A volume-rendered fit (render/volume.py) makes the first few samples behind a surface opaque and
gives the space behind them no gradient at all, so the inside of an object may hold pockets of
empty space: surfaces no camera sees, which marching cubes would mesh as walls inside the object.
They are found on a dense grid of the field as the empty regions not connected to the grid's
border (scipy's binary_fill_holes), and set inside.
"""

from __future__ import annotations

import torch
from scipy.ndimage import binary_fill_holes

from ..fields.base import tau_logit
from ..render.march import LogitFn, evaluate_chunked
from ..render.occgrid import MASKED_MARGIN

HOLLOW_RESOLUTION = 128  # grid samples per side of the cube where hollows are looked for


def hollow_grid(logit_fn: LogitFn, tau: float = 0.5, res: int = HOLLOW_RESOLUTION, device=None) -> torch.Tensor:
    """(res, res, res) bool, indexed [i, j, k] along x, y, z: the samples -1 + 2 i / (res - 1) of
    [-1, 1]^3 that are empty (logit < logit(tau)) and enclosed by inside samples (6-connected)."""
    axis = torch.linspace(-1.0, 1.0, res, device=device)
    points = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    with torch.no_grad():
        inside = (evaluate_chunked(logit_fn, points) >= tau_logit(tau)).reshape(res, res, res).cpu().numpy()
    return torch.from_numpy(binary_fill_holes(inside) & ~inside)


def fill_hollows(logit_fn: LogitFn, tau: float = 0.5, res: int = HOLLOW_RESOLUTION, device=None) -> LogitFn:
    """``logit_fn`` with the logit raised to logit(tau) + MASKED_MARGIN at points whose nearest
    ``hollow_grid`` sample is a hollow (unchanged elsewhere, and when there is none)."""
    hollow = hollow_grid(logit_fn, tau, res, device)
    if not hollow.any():
        return logit_fn
    hollow = hollow.to(device).reshape(-1)
    inside = tau_logit(tau) + MASKED_MARGIN

    def fn(points: torch.Tensor) -> torch.Tensor:
        logits = logit_fn(points)
        idx = ((points.clamp(-1.0, 1.0) + 1.0) * (0.5 * (res - 1))).round().long()
        filled = hollow.to(points.device)[(idx[:, 0] * res + idx[:, 1]) * res + idx[:, 2]]
        return torch.where(filled, torch.clamp_min(logits, inside), logits)

    return fn
