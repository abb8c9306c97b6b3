"""The surface depth as a differentiable function of the field: DVR's implicit gradient.

At the surface point p = o + d w the occupancy equals the level: f_theta(p) = level. Differentiating
this identity with respect to theta (Niemeyer et al. 2020, Eq. 7-8):

    df/dtheta + (df/dp . w) dd/dtheta = 0   =>   dd/dtheta = -(df/dp . w)^-1 df/dtheta,

so only the field at the final surface point is needed: no marching history is stored.
f is the occupancy logit rather than sigmoid(logit): both vanish at the same depth, and the logit
avoids the sigmoid's saturation shrinking df/dp . w.

The gradient is written into the forward pass rather than a custom backward:
    d = d0 - (f - [f]) / [df/dp . w]     ([x]: x detached, d0: the marched depth, f = f(o + d0 w)),
whose value is d0 and whose gradient is the equation above (and, through f's dependence on o and
w, dd/do = -(df/dp . w)^-1 df/dp, dd/dw = -(df/dp . w)^-1 d0 df/dp). So f is an ordinary
differentiable field output: the caller can evaluate it in one batch with the step's other
occupancy queries, and the field's parameters receive one gradient for all of them.
"""

from __future__ import annotations

import torch

from ..fields.base import Field
from .march import SurfaceHits

# |df/dp . w| is clamped to at least this (keeping its sign): a ray grazing the surface has a
# near-zero slope and would otherwise get an unbounded depth gradient.
MIN_SLOPE = 1e-3


def surface_points(origins: torch.Tensor, dirs: torch.Tensor, hits: SurfaceHits) -> torch.Tensor:
    """The marched surface points p = o + d0 w of the hit rays, (M, 3) for the M = hits.hit.sum() rays.

    origins, dirs: (N, 3). d0 = hits.depth is a constant; p follows origins and dirs (their
    gradient, if they require one, reaches the depth through f(p), see ``surface_depth``).
    """
    rays = hits.hit.nonzero().squeeze(1)
    return origins[rays] + hits.depth[rays, None] * dirs[rays]


def surface_slope(field: Field, points: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """df/dp . w at ``points`` (M, 3) along ``dirs`` (M, 3) -> (M,), detached.

    > 0 at an outside -> inside crossing; clamped to |slope| >= MIN_SLOPE keeping its sign. Only
    the gradient to the points is formed (none to the field's parameters), so this costs no
    parameter-sized gradient buffer.
    """
    with torch.enable_grad():
        x = points.detach().requires_grad_(True)
        (df_dp,) = torch.autograd.grad(field.occupancy_logits(x).sum(), x)
    slope = (df_dp * dirs.detach()).sum(dim=1)
    return torch.where(slope >= 0, slope.clamp_min(MIN_SLOPE), slope.clamp_max(-MIN_SLOPE))


def surface_depth(
    field: Field, origins: torch.Tensor, dirs: torch.Tensor, hits: SurfaceHits, logits: torch.Tensor
) -> torch.Tensor:
    """Differentiable surface depth d (N,) of rays o + d w from a marching result.

    field: the field that ``hits`` was marched on. origins, dirs: (N, 3) (may require grad).
    hits: ``find_surface`` output for these rays. logits: (M,) f at ``surface_points(origins,
    dirs, hits)``, evaluated by the caller with gradients (so it can share one field call with
    other points). Value: hits.depth where hit, else 0. Gradient: dd/dtheta =
    -(df/dp . w)^-1 df/dtheta at p = o + d w for hit rays (likewise to o and w), 0 for the others.
    """
    if hits.depth.shape != origins.shape[:1] or origins.shape != dirs.shape:
        raise ValueError(
            f"hits for {tuple(hits.depth.shape)} rays do not match origins {tuple(origins.shape)} "
            f"and dirs {tuple(dirs.shape)}"
        )
    rays = hits.hit.nonzero().squeeze(1)
    if logits.shape != rays.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match the {rays.numel()} hit rays")
    slope = surface_slope(field, surface_points(origins, dirs, hits), dirs[rays])
    depth = hits.depth[rays] - (logits - logits.detach()) / slope
    return hits.depth.new_zeros(hits.depth.shape).index_put((rays,), depth)
