"""Rays through pixel centres and their intersection with the unit cube."""

from __future__ import annotations

import torch

from ..scene.camera import Camera


def camera_rays(camera: Camera, pixels: torch.Tensor | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays of an OpenCV pinhole camera through pixel centres: :meth:`Camera.pixel_rays` on ``device``.

    camera: in the frame the rays should live in (the unit frame for rendering fields).
    pixels: (N, 2) float (u, v) pixel coordinates, or None for all H*W pixels row-major.
    Returns origins (N, 3) = camera centre C = -R^T t, dirs (N, 3) = normalise(R^T K^-1 [u, v, 1]).
    Tensors are on ``device`` (default: that of ``pixels``, else CPU) with the dtype of
    ``pixels`` (float32 when None).
    """
    if pixels is None:
        pixels = torch.from_numpy(camera.pixel_centers())
    return camera.pixel_rays(pixels.to(pixels.device if device is None else device))


def intersect_cube(origins: torch.Tensor, dirs: torch.Tensor, bound: float = 1.0):
    """Slab-method intersection of rays o + t w (t >= 0) with the cube [-bound, bound]^3.

    origins, dirs: (N, 3). Per axis k the ray is within the slab for t between
    (+-bound - o_k) / w_k; t_near = max_k of the smaller ends clamped at 0 (origins inside the
    cube start at t = 0), t_far = min_k of the larger ends.
    Returns t_near (N,), t_far (N,), valid (N,) bool = t_far > t_near (rays that miss the cube
    or whose cube lies behind them are invalid).
    """
    if origins.shape != dirs.shape or origins.ndim != 2 or origins.shape[1] != 3:
        raise ValueError(f"origins and dirs must both be (N, 3), got {tuple(origins.shape)} and {tuple(dirs.shape)}")
    # A zero direction component would give 0/0 for an origin on the slab's plane; a tiny
    # same-signed value instead yields +-huge ends, which is the right limit.
    tiny = torch.finfo(dirs.dtype).tiny ** 0.5
    safe = torch.where(dirs.abs() < tiny, torch.full_like(dirs, tiny), dirs)
    t0 = (-bound - origins) / safe
    t1 = (bound - origins) / safe
    t_near = torch.minimum(t0, t1).amax(dim=1).clamp_min(0.0)
    t_far = torch.maximum(t0, t1).amin(dim=1)
    return t_near, t_far, t_far > t_near
