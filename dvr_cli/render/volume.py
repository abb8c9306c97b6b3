"""UNISURF's unified volume rendering of an occupancy field (Oechsle, Peng, Geiger, ICCV 2021).

The occupancy o(p) = sigmoid(f(p)) in [0, 1] is used directly as the alpha of a volume renderer:
along a ray with samples t_1 < ... < t_S,

    C(r) = sum_i o_i prod_{j<i} (1 - o_j) c_i  +  background * prod_i (1 - o_i),

so every sample gets a photometric gradient, not only the one surface crossing DVR finds. The
samples lie in an interval [d - delta, d + delta] around that crossing d (found by the marcher and
secant of march.py), plus a few spread over the whole ray inside the cube (free space); delta
shrinks over the plan, so the fit ends as surface rendering. Pure functions over flat tensors
(nerfacc's volrend.py style); the caller evaluates the field.
"""

from __future__ import annotations

import math

import torch


def _check_rays(name: str, tensor: torch.Tensor, shape: tuple) -> None:
    if tuple(tensor.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(tensor.shape)}")


def transmittance(alphas: torch.Tensor) -> torch.Tensor:
    """alphas: (N, S) per-sample occupancy in [0, 1] -> (N, S) T_i = prod_{j<i} (1 - o_j) (T_1 = 1)."""
    if alphas.ndim != 2:
        raise ValueError(f"alphas must be (N, S), got {tuple(alphas.shape)}")
    survive = torch.cumprod(1.0 - alphas, dim=1)
    return torch.cat([torch.ones_like(alphas[:, :1]), survive[:, :-1]], dim=1)


def composite(
    alphas: torch.Tensor, colors: torch.Tensor, background: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Alpha-composite N rays of S samples each, front to back.

    alphas: (N, S) occupancy o_i in [0, 1] of the samples in increasing depth order;
    colors: (N, S, 3) their colours c_i; background: (N, 3) colour seen past the last sample, or
    None (black). Returns a dict:
      weights (N, S): w_i = o_i prod_{j<i} (1 - o_j);
      acc (N,): sum_i w_i = 1 - prod_i (1 - o_i), the ray's opacity;
      rgb (N, 3): sum_i w_i c_i + (1 - acc) background.
    """
    n, s = alphas.shape if alphas.ndim == 2 else (-1, -1)
    _check_rays("alphas", alphas, (n, s))
    _check_rays("colors", colors, (n, s, 3))
    weights = alphas * transmittance(alphas)
    acc = weights.sum(dim=1)
    rgb = (weights[..., None] * colors).sum(dim=1)
    if background is not None:
        _check_rays("background", background, (n, 3))
        rgb = rgb + (1.0 - acc)[:, None] * background
    return {"weights": weights, "acc": acc, "rgb": rgb}


def expected_depth(weights: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """weights, t: (N, S) -> (N,) sum_i w_i t_i / sum_i w_i, the depth of the rendered surface
    (0 for a ray with no weight)."""
    _check_rays("t", t, tuple(weights.shape))
    acc = weights.sum(dim=1)
    return (weights * t).sum(dim=1) / acc.clamp_min(torch.finfo(weights.dtype).tiny)


def interval_halfwidth(fraction: float, delta_max: float, delta_min: float, decay: float) -> float:
    """UNISURF's shrinking interval, on the plan: delta = max(delta_max exp(-decay * fraction), delta_min).

    fraction: share of the plan done, in [0, 1] (UNISURF counts iterations: exp(-beta k), here
    k / plan so that a fit of any length shrinks the same way).
    """
    return max(delta_max * math.exp(-decay * fraction), delta_min)


def stratified(lo: torch.Tensor, hi: torch.Tensor, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """lo, hi: (N,) -> (N, n) one uniform sample in each of n equal bins of [lo, hi], increasing.

    t_k = lo + (k + u_k) (hi - lo) / n with u_k ~ U[0, 1) from ``generator`` (drawn on the CPU,
    so a fit's samples do not depend on the device).
    """
    u = torch.rand((lo.shape[0], n), generator=generator, dtype=lo.dtype).to(lo.device)
    bins = torch.arange(n, dtype=lo.dtype, device=lo.device)
    return lo[:, None] + (bins + u) * ((hi - lo) / n)[:, None]


def ray_samples(
    t_near: torch.Tensor,
    t_far: torch.Tensor,
    depth: torch.Tensor,
    hit: torch.Tensor,
    delta: float,
    n_free: int,
    n_interval: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The ray parameters to volume-render, (N, n_free + n_interval), sorted along each ray.

    t_near, t_far: (N,) the part of each ray to render (in the cube, or its occupied span);
    depth, hit: (N,) the marched surface crossing and whether there is one; delta: half-width of
    the interval around it (``interval_halfwidth``).
    n_free stratified samples cover [t_near, t_far] (free space); n_interval more cover
    [d - delta, d + delta] clamped to [t_near, t_far] on rays that hit, and [t_near, t_far] again
    on the others (UNISURF: rays with no surface are sampled along their whole extent).
    """
    for name, value in (("t_far", t_far), ("depth", depth), ("hit", hit)):
        _check_rays(name, value, tuple(t_near.shape))
    free = stratified(t_near, t_far, n_free, generator)
    lo = torch.where(hit, torch.maximum(depth - delta, t_near), t_near)
    hi = torch.where(hit, torch.minimum(depth + delta, t_far), t_far)
    interval = stratified(lo, hi, n_interval, generator)
    return torch.sort(torch.cat([free, interval], dim=1), dim=1).values
