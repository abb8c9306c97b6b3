"""The surface depth as a differentiable function of the field: DVR's implicit gradient.

At the surface point p = o + d w the occupancy equals the level: f_theta(p) = level. Differentiating
this identity with respect to theta (Niemeyer et al. 2020, Eq. 7-8):

    df/dtheta + (df/dp . w) dd/dtheta = 0   =>   dd/dtheta = -(df/dp . w)^-1 df/dtheta,

so only the field at the final surface point is needed: no marching history is stored.
f is the occupancy logit rather than sigmoid(logit): both vanish at the same depth, and the logit
avoids the sigmoid's saturation shrinking df/dp . w.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ..fields.base import Field
from .march import SurfaceHits

# |df/dp . w| is clamped to at least this (keeping its sign): a ray grazing the surface has a
# near-zero slope and would otherwise get an unbounded depth gradient.
MIN_SLOPE = 1e-3


def trainable_parameters(field: Field) -> list[torch.Tensor]:
    return [p for p in field.parameters() if p.requires_grad]


class SurfaceDepth(torch.autograd.Function):
    """depth = marched depth (forward); implicit gradient to the field, origins and dirs (backward).

    forward(depth (N,), hit (N,) bool, origins (N, 3), dirs (N, 3), field, *params) -> (N,).
    The field's trainable parameters are inputs only so autograd routes their gradients here;
    backward takes them from the field itself, the tensors its re-evaluation graph is built on.
    """

    @staticmethod
    def forward(ctx, depth, hit, origins, dirs, field, *params):
        ctx.field = field
        ctx.save_for_backward(depth, hit, origins, dirs)
        return torch.where(hit, depth, torch.zeros_like(depth))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_depth):
        depth, hit, origins, dirs = ctx.saved_tensors
        params = trainable_parameters(ctx.field)
        needs_o, needs_w = ctx.needs_input_grad[2:4]
        wanted = [i for i, p in enumerate(params) if ctx.needs_input_grad[5 + i]]
        grad_params = [None] * len(params)
        grad_o = torch.zeros_like(origins) if needs_o else None
        grad_w = torch.zeros_like(dirs) if needs_w else None
        rays = hit.nonzero().squeeze(1)
        if rays.numel() == 0:  # None is autograd's zero gradient
            return (None, None, grad_o, grad_w, None, *grad_params)
        o, w, d = origins[rays], dirs[rays], depth[rays]
        with torch.enable_grad():
            p = (o + d[:, None] * w).detach().requires_grad_(True)
            f = ctx.field.occupancy_logits(p)
            (df_dp,) = torch.autograd.grad(f.sum(), p, retain_graph=bool(wanted))
            slope = (df_dp * w).sum(dim=1)  # df/dd along the ray, > 0 at an outside -> inside crossing
            slope = torch.where(slope >= 0, slope.clamp_min(MIN_SLOPE), slope.clamp_max(-MIN_SLOPE))
            coeff = -grad_depth[rays] / slope  # dL/dd * dd/df
            if wanted:
                grads = torch.autograd.grad(f, [params[i] for i in wanted], grad_outputs=coeff.to(f.dtype),
                                            allow_unused=True)
                for i, g in zip(wanted, grads):
                    grad_params[i] = g
        # p = o + d w: df/do = df/dp and df/dw = d df/dp.
        if needs_o:
            grad_o[rays] = coeff[:, None] * df_dp
        if needs_w:
            grad_w[rays] = (coeff * d)[:, None] * df_dp
        return (None, None, grad_o, grad_w, None, *grad_params)


def surface_depth(field: Field, origins: torch.Tensor, dirs: torch.Tensor, hits: SurfaceHits, tau: float = 0.5) -> torch.Tensor:
    """Differentiable surface depth d (N,) of rays o + d w from a marching result.

    field: the field that ``hits`` was marched on. origins, dirs: (N, 3) (may require grad).
    hits: ``find_surface`` output for these rays. tau: the level marched; the gradient does not
    depend on it (d(f - logit(tau)) = df), it is taken to keep the call self-describing.
    Value: hits.depth where hit, else 0. Gradient: dd/dtheta = -(df/dp . w)^-1 df/dtheta at
    p = o + d w for hit rays, 0 for the others.
    """
    if hits.depth.shape != origins.shape[:1] or origins.shape != dirs.shape:
        raise ValueError(f"hits for {tuple(hits.depth.shape)} rays do not match origins {tuple(origins.shape)} "
                         f"and dirs {tuple(dirs.shape)}")
    return SurfaceDepth.apply(hits.depth, hits.hit, origins, dirs, field, *trainable_parameters(field))
