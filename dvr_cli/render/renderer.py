"""DVR's surface renderer: rays -> surface depth (implicit gradient) -> points -> texture."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..fields.base import Field
from ..fields.normals import normals
from ..scene.camera import Camera
from .background_rays import ray_background
from .implicit import surface_depth, surface_points
from .march import SurfaceHits, find_surface
from .rays import camera_rays


def render_rays(
    field: Field,
    origins: torch.Tensor,
    dirs: torch.Tensor,
    n_samples: int,
    tau: float = 0.5,
    n_secant: int = 8,
    occ_grid=None,
) -> dict[str, torch.Tensor]:
    """Render N rays o + t w against ``field``.

    origins, dirs: (N, 3), w unit-norm, in the unit frame.
    Returns ``shade_hits``' dict for the marched rays; n_evaluated: int, field evaluations the
    marcher made (for throughput figures).
    """
    hits = find_surface(field.occupancy_logits, origins, dirs, n_samples, tau, n_secant, occ_grid)
    out = shade_hits(field, origins, dirs, hits, field.occupancy_logits(surface_points(origins, dirs, hits)))
    return {**out, "n_evaluated": hits.n_evaluated}


def shade_hits(
    field: Field,
    origins: torch.Tensor,
    dirs: torch.Tensor,
    hits: SurfaceHits,
    surface_logits: torch.Tensor,
    surface_normals: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Depth, points and colour of N marched rays o + t w, differentiable.

    origins, dirs: (N, 3) the rays ``hits`` marched; surface_logits: (M,) f at
    ``surface_points(origins, dirs, hits)`` with gradients (see ``surface_depth``); surface_normals:
    (M, 3) outward unit normals there, if the caller has them (passed to ``field.texture``).
    Returns a dict:
      depth (N,): surface distance d (0 where not hit); differentiable by the implicit gradient.
      points (N, 3): p = o + d w (the origin where not hit).
      rgb (N, 3): t(p, w) where hit, 0 elsewhere; its gradient reaches the texture parameters
        directly and the occupancy parameters through d.
      hit, inside (N,) bool; t_near, t_far, t_peak (N,): see ``SurfaceHits``.
    """
    depth = surface_depth(field, origins, dirs, hits, surface_logits)
    points = origins + depth[:, None] * dirs
    rays = hits.hit.nonzero().squeeze(1)
    rgb = points.new_zeros(points.shape).index_put((rays,), field.texture(points[rays], dirs[rays], surface_normals))
    return {
        "depth": depth,
        "points": points,
        "rgb": rgb,
        "hit": hits.hit,
        "inside": hits.inside,
        "t_near": hits.t_near,
        "t_far": hits.t_far,
        "t_peak": hits.t_peak,
    }


def render_image(
    field: Field,
    camera_unit: Camera,
    n_samples: int,
    tau: float = 0.5,
    chunk: int = 8192,
    occ_grid=None,
    background=(1.0, 1.0, 1.0),
    progress: Callable[[int, int], None] | None = None,
    n_secant: int = 8,
    background_model: nn.Module | None = None,
    background_samples: int = 16,
) -> dict[str, np.ndarray]:
    """Render a whole image of ``camera_unit`` (a camera in the unit frame), ``chunk`` rays at a time.

    Returns numpy arrays (H, W = the camera's image size):
      rgb (H, W, 3) float32: t(p) on hits, elsewhere ``background`` or, with a ``background_model``
        (fields/background.py), what it shows past the cube (``ray_background``, the mean exposure,
        ``background_samples`` per ray);
      depth (H, W) float32: distance along the ray in unit-frame units, 0 on miss;
      normal (H, W, 3) float32: outward unit normal -grad f / |grad f| (unit frame = world axes,
        the normalisation is a similarity without rotation), 0 on miss;
      mask (H, W) bool: hit.
    ``progress(done_rays, total_rays)`` is called after each chunk.
    """
    param = next(field.parameters())
    origins, dirs = camera_rays(camera_unit, device=param.device)
    origins, dirs = origins.to(param.dtype), dirs.to(param.dtype)
    total = origins.shape[0]
    rgb = np.empty((total, 3), dtype=np.float32)
    rgb[:] = np.asarray(background, dtype=np.float32)
    depth = np.zeros(total, dtype=np.float32)
    normal = np.zeros((total, 3), dtype=np.float32)
    mask = np.zeros(total, dtype=bool)
    for start in range(0, total, chunk):
        o, w = origins[start : start + chunk], dirs[start : start + chunk]
        with torch.no_grad():
            hits = find_surface(field.occupancy_logits, o, w, n_samples, tau, n_secant, occ_grid, stop_at_hit=True)
            rays = hits.hit.nonzero().squeeze(1)
            points = o[rays] + hits.depth[rays, None] * w[rays]
            out = rays.cpu().numpy() + start
            if rays.numel():
                rgb[out] = field.texture(points, w[rays]).float().cpu().numpy()
                normal[out] = normals(field, points).float().cpu().numpy()
            depth[out] = hits.depth[rays].float().cpu().numpy()
            if background_model is not None:
                misses = (~hits.hit).nonzero().squeeze(1)
                rgb[misses.cpu().numpy() + start] = (
                    ray_background(background_model, o[misses], w[misses], None, background_samples)
                    .float()
                    .cpu()
                    .numpy()
                )
            mask[out] = True
        if progress is not None:
            progress(min(start + chunk, total), total)
    h, w_ = camera_unit.height, camera_unit.width
    return {
        "rgb": rgb.reshape(h, w_, 3),
        "depth": depth.reshape(h, w_),
        "normal": normal.reshape(h, w_, 3),
        "mask": mask.reshape(h, w_),
    }
