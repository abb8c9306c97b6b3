"""Surface normals of an occupancy field from its gradient."""

from __future__ import annotations

import torch

from ..fields.base import Field, check_points


def normals(field: Field, points: torch.Tensor, create_graph: bool = False, eps: float = 1e-12) -> torch.Tensor:
    """Outward unit normals n(p) = -grad f(p) / |grad f(p)| of the occupancy logit f.

    points: (N, 3). Returns (N, 3). Occupancy grows inwards, so its gradient points in and the
    outward normal is its negation. Grad mode is enabled locally, so this works inside a caller's
    ``torch.no_grad()``. With ``create_graph`` the result is differentiable (w.r.t. the field's
    parameters, and w.r.t. ``points`` if they require grad), as a normal-smoothness loss needs;
    otherwise it is detached.
    """
    check_points(points)
    with torch.enable_grad():
        x = points if (create_graph and points.requires_grad) else points.detach().requires_grad_(True)
        logits = field.occupancy_logits(x)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=create_graph)
    n = -grad / grad.norm(dim=1, keepdim=True).clamp_min(eps)
    return n if create_graph else n.detach()
