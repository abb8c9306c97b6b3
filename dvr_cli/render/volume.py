"""UNISURF's unified volume rendering of an occupancy field (Oechsle, Peng, Geiger, ICCV 2021).

The occupancy o(p) = sigmoid(f(p)) in [0, 1] is used directly as the alpha of a volume renderer:
along a ray with samples t_1 < ... < t_S,

    C(r) = sum_i o_i prod_{j<i} (1 - o_j) c_i  +  background * prod_i (1 - o_i),

so every sample gets a photometric gradient, not only the one surface crossing DVR finds. The
samples lie in an interval [d - delta, d + delta] around that crossing d (found by the marcher and
secant of march.py), plus a few spread over the whole ray inside the cube (free space); delta
shrinks over the plan, so the fit ends as surface rendering. Pure functions over flat tensors
(nerfacc's volrend.py style): the compositing maths, the samples of a batch of marched rays
(``volume_samples``) and their render from the occupancy the caller evaluated there
(``volume_outputs``: the colour field is read only where a sample's weight counts).
"""

from __future__ import annotations

import math

import torch

from ..fields.base import Field
from .march import SurfaceHits, occupied_span
from .occgrid import OccupancyGrid

# samples whose compositing weight is below this get no colour evaluation (nerfacc skips them
# too): they would change a pixel by less than 1e-4 of the colour range
WEIGHT_EPS = 1e-4


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


def volume_samples(
    origins: torch.Tensor,
    dirs: torch.Tensor,
    hits: SurfaceHits,
    delta: float,
    n_free: int,
    n_interval: int,
    occ_grid: OccupancyGrid | None,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The volume renderer's samples of N marched rays o + t w (UNISURF's sampling, ``ray_samples``).

    origins, dirs: (N, 3) the rays ``hits`` marched. Each ray is sampled over the part of it in
    the cube that crosses occupied cells of ``occ_grid`` (``occupied_span``; the whole chord
    without a grid): ``n_free`` samples spread over it, ``n_interval`` within [d - delta, d + delta]
    around its marched surface d (or over it all when it has none). Returns
      t: (N, S) sorted ray parameters, S = n_free + n_interval;
      points: (N * S, 3) the samples o + t w, ray-major;
      live: (N * S,) bool, the sample lies in an occupied cell (the others are empty: alpha 0).
    """
    t_near, t_far = hits.t_near.clamp_min(0.0), hits.t_far
    if occ_grid is not None:
        t_near, t_far = occupied_span(occ_grid, origins, dirs, t_near, t_far)
    t = ray_samples(t_near, t_far, hits.depth, hits.hit, delta, n_free, n_interval, generator)
    points = (origins[:, None, :] + t[..., None] * dirs[:, None, :]).reshape(-1, 3)
    live = occ_grid.occupied(points) if occ_grid is not None else torch.ones_like(points[:, 0], dtype=torch.bool)
    return t, points, live


def volume_outputs(
    field: Field,
    origins: torch.Tensor,
    dirs: torch.Tensor,
    hits: SurfaceHits,
    t: torch.Tensor,
    live: torch.Tensor,
    logits: torch.Tensor,
    surface_normals: torch.Tensor | None,
    background: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """The volume render of N marched rays o + t w from their samples' occupancy logits.

    origins, dirs: (N, 3); t: (N, S) and live: (N * S,) from ``volume_samples``; logits: (L,) f
    at the L live samples, with gradients; surface_normals: (M, 3) detached outward normals at the
    M hit rays' surface points, or None; background: (N, 3) or None. Alpha o = sigmoid(f) (0 at
    samples in empty cells); the colour t(p, w) is evaluated where the weight is at least
    WEIGHT_EPS, its shading term reading the normal of the ray's surface (its samples lie around
    it) or, on a ray with none, -w (facing the camera). Returns ``composite``'s rgb, acc, weights and
      depth (N,): the expected depth sum w_i t_i / acc;
      rendered (N,) bool: all True (every ray's colour is a render);
      hit, inside, t_near, t_far, t_peak (N,): the marching's, as ``shade_hits`` returns them.
    """
    n, s = t.shape
    alphas = t.new_zeros(n * s).index_put((live.nonzero().squeeze(1),), torch.sigmoid(logits)).view(n, s)
    with torch.no_grad():
        seen = (composite(alphas, alphas.new_zeros(n, s, 3))["weights"] >= WEIGHT_EPS).reshape(-1)
    index = seen.nonzero().squeeze(1)
    ray = index // s
    ray_normals = -dirs
    if surface_normals is not None:
        ray_normals = ray_normals.index_put((hits.hit.nonzero().squeeze(1),), surface_normals.detach())
    points = origins[ray] + t.reshape(-1)[index, None] * dirs[ray]
    colours = t.new_zeros(n * s, 3).index_put((index,), field.texture(points, dirs[ray], ray_normals[ray]))
    out = composite(alphas, colours.view(n, s, 3), background)
    out.update(
        depth=expected_depth(out["weights"], t),
        rendered=torch.ones_like(hits.hit),
        hit=hits.hit,
        inside=hits.inside,
        t_near=hits.t_near,
        t_far=hits.t_far,
        t_peak=hits.t_peak,
    )
    return out
