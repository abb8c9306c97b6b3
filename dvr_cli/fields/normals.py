"""Surface normals of an occupancy field from its gradient."""

from __future__ import annotations

import contextlib

import torch

from .base import Field, check_points
from .fused import reference_kernel


def normals(field: Field, points: torch.Tensor, create_graph: bool = False, eps: float = 1e-12) -> torch.Tensor:
    """Outward unit normals n(p) = -grad f(p) / |grad f(p)| of the occupancy logit f.

    points: (N, 3). Returns (N, 3). Occupancy grows inwards, so its gradient points in and the
    outward normal is its negation. Grad mode is enabled locally, so this works inside a caller's
    ``torch.no_grad()``. With ``create_graph`` the result is differentiable (w.r.t. the field's
    parameters, and w.r.t. ``points`` if they require grad), as a normal-smoothness loss needs;
    otherwise it is detached (the double backward runs on the torch kernel: the native one
    differentiates once).
    """
    check_points(points)
    with torch.enable_grad(), reference_kernel() if create_graph else contextlib.nullcontext():
        x = points if (create_graph and points.requires_grad) else points.detach().requires_grad_(True)
        logits = field.occupancy_logits(x)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=create_graph)
    n = -grad / grad.norm(dim=1, keepdim=True).clamp_min(eps)
    return n if create_graph else n.detach()


def fd_points(points: torch.Tensor, step: float) -> torch.Tensor:
    """The central-difference stencil of ``points`` (N, 3): (6N, 3), p + h e for e = +x +y +z -x -y -z per point.

    step: h > 0 in unit-frame units. The caller evaluates f there (in one batch with its other
    occupancy queries, if it likes) and passes the logits to ``fd_normals``.
    """
    check_points(points)
    if step <= 0:
        raise ValueError(f"finite-difference step must be > 0, got {step}")
    offsets = torch.eye(3, dtype=points.dtype, device=points.device) * step
    offsets = torch.cat([offsets, -offsets])  # (6, 3): +x +y +z -x -y -z
    return (points[:, None, :] + offsets).reshape(-1, 3)


def fd_normals(logits: torch.Tensor, step: float, eps: float = 1e-12) -> torch.Tensor:
    """Outward unit normals from central differences of the occupancy logit f, differentiable.

    logits: (6N,) f at ``fd_points(points, step)``. Returns (N, 3):
    grad_i f ~ (f(p + h e_i) - f(p - h e_i)) / 2h, n = -grad / |grad|. First-order autograd only:
    much cheaper to train through than ``normals(create_graph=True)``'s double backward, and h of
    about a grid cell also smooths over the grid's trilinear kinks (as in Neuralangelo's numerical
    gradients).
    """
    if logits.ndim != 1 or logits.shape[0] % 6:
        raise ValueError(f"logits must be (6N,) from fd_points, got {tuple(logits.shape)}")
    logits = logits.view(-1, 6)
    grad = (logits[:, :3] - logits[:, 3:]) / (2.0 * step)
    return -grad / grad.norm(dim=1, keepdim=True).clamp_min(eps)
