"""The DVR objective: what one batch of rays renders to, and the loss terms of a batch and its render.

A step renders its rays either as DVR's surface (the colour at the one marched crossing, the
implicit gradient to the field) or, in ``cfg.rendering.renderer`` 'unified' until ``volume_until`` of
the plan, as UNISURF's volume of the occupancy around that crossing (render/volume.py).

The loop (trainer.py) owns the optimiser and the run folder; this module owns only the maths of
a step, as pure functions over the field, a ray batch and the config (nerfstudio's "model":
outputs of a batch, losses of a batch and its outputs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..config import FitConfig
from ..fields import Field
from ..fields.normals import fd_normals, fd_points, normals
from ..render.implicit import surface_points
from ..render.march import SurfaceHits, find_surface, occupied_span
from ..render.occgrid import OccupancyGrid
from ..render.renderer import shade_hits
from ..render.volume import composite, expected_depth, interval_halfwidth, ray_samples
from . import losses
from .sampler import RayBatch


@dataclass
class StepRecord:
    """What one step did.

    terms: each loss term, unweighted; total: the weighted sum that was minimised;
    hit_rate: share of the rays that found a surface; evaluations: field evaluations of the
    marcher; n_samples: marching samples per ray; lr: learning rate; fraction: share of the plan done
    when the step started.
    """

    terms: dict[str, float]
    total: float
    hit_rate: float
    evaluations: int
    n_samples: int
    lr: float
    fraction: float

    def to_json(self) -> dict:
        """The metrics.jsonl fields of this step."""
        return {
            **self.terms,
            "total": self.total,
            "hit": self.hit_rate,
            "march_evals": self.evaluations,
            "n_samples": self.n_samples,
            "lr": self.lr,
            "fraction": round(self.fraction, 5),
        }


def batch_outputs(
    field: Field,
    batch: RayBatch,
    cfg: FitConfig,
    n_samples: int,
    occ_grid: OccupancyGrid | None,
    generator: torch.Generator,
    fraction: float = 1.0,
    background: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The render of a batch's rays and every field query its losses need.

    After marching (no gradients), all the step's differentiable occupancy queries (the surface
    points of the implicit depth, the occupancy probes, the finite-difference stencil of the
    normals, the volume samples) go through one ``field.occupancy_logits`` call: one forward and
    one parameter-sized gradient instead of one per query. ``fraction``: share of the plan done
    (it picks the renderer, ``cfg.rendering.volume_rendered``, and the volume's interval); background: (N, 3)
    colour past the cube of each ray, or None (with masks: the rays that matter are in them).
    Returns ``shade_hits``' dict (depth, points, rgb, hit, t_peak, ...), or for a volume step
    ``volume_outputs``' (rgb, acc, depth, hit, t_peak, ...), and
      compared (N,) bool: the rays whose colour the rgb term compares (see ``step_losses``);
      n_evaluated: int, field evaluations of the marcher;
      probe_logits (N,), probe_points (N, 3): f at each ray's ``occupancy_probes`` point, and the point;
      free_logits, solid_logits (S,), when the batch has ``free_points``: f at those points and
        at the ``solid_points``;
      normals (2M, 3), when cfg.losses.w_normal > 0 and M > 0 rays hit: outward normals at the M surface
        points (detached), then at M copies jittered by cfg.losses.normal_jitter (noise from ``generator``).
    """
    render, weights = cfg.rendering, cfg.losses
    hits = find_surface(
        field.occupancy_logits,
        batch.origins,
        batch.dirs,
        n_samples,
        render.tau,
        render.n_secant,
        occ_grid,
        stop_at_hit=render.stop_at_hit,
    )  # a hit's probe is its surface point, not its peak
    surface = surface_points(batch.origins, batch.dirs, hits)
    volume = render.volume_rendered(fraction)
    queries = {"probe": occupancy_probes(batch, hits, cfg)}
    if not volume:  # the implicit depth's points: a volume step's depth is the samples' expected depth
        queries["surface"] = surface
    if batch.free_points is not None:
        queries["free"], queries["solid"] = batch.free_points, batch.solid_points
    jittered = None
    if weights.w_normal > 0 and hits.hit.any():
        noise = torch.randn(surface.shape, generator=generator).to(surface.device)
        jittered = torch.cat([surface, surface + weights.normal_jitter * noise]).detach()
        if weights.normal_fd_step > 0:
            queries["stencil"] = fd_points(jittered, weights.normal_fd_step)
    if volume:
        t, points, live = volume_samples(batch, hits, cfg, fraction, occ_grid, generator)
        queries["volume"] = points[live]
    split = field.occupancy_logits(torch.cat(list(queries.values()))).split([len(q) for q in queries.values()])
    logits = dict(zip(queries, split))
    fd = fd_normals(logits["stencil"], weights.normal_fd_step) if "stencil" in logits else None
    # the first M stencil normals are at the surface points: the shading term reads them (detached)
    # instead of evaluating a stencil of its own there
    surface_normals = None if fd is None else fd[: len(surface)]
    n_evaluated = hits.n_evaluated
    if volume:
        out = volume_outputs(field, batch, hits, t, live, logits["volume"], surface_normals, background)
        n_evaluated += int(live.sum())
    else:
        out = shade_hits(field, batch.origins, batch.dirs, hits, logits["surface"], surface_normals)
        out["rendered"] = hits.hit
        if background is not None:  # a miss shows the background: every ray is a render to compare
            out["rgb"] = out["rgb"] + (~hits.hit)[:, None] * background
            out["rendered"] = torch.ones_like(hits.hit)
    # the colour is compared where it is a render and, with masks, in them; with a background too it
    # is compared outside them (the mask loss empties the occupancy there: the background shows)
    compared = out["rendered"] if batch.mask is None or background is not None else out["rendered"] & batch.mask
    out.update(n_evaluated=n_evaluated, probe_logits=logits["probe"], probe_points=queries["probe"], compared=compared)
    if "free" in logits:
        out["free_logits"], out["solid_logits"] = logits["free"], logits["solid"]
    if jittered is not None:
        out["normals"] = fd if fd is not None else normals(field, jittered, create_graph=True)
    return out


# samples whose compositing weight is below this get no colour evaluation (nerfacc skips them
# too): they would change a pixel by less than 1e-4 of the colour range
WEIGHT_EPS = 1e-4


def volume_samples(
    batch: RayBatch,
    hits: SurfaceHits,
    cfg: FitConfig,
    fraction: float,
    occ_grid: OccupancyGrid | None,
    generator: torch.Generator,
):
    """The volume renderer's samples of a batch's rays (UNISURF's sampling, ``ray_samples``).

    Each ray is sampled over the part of it in the cube that crosses occupied cells of
    ``occ_grid`` (``occupied_span``; the whole chord without a grid): ``cfg.rendering.free_samples`` spread
    over it, ``cfg.rendering.interval_samples`` within the interval of ``interval_halfwidth(fraction, ...)``
    around its marched surface (or over it all when it has none). Returns
      t: (N, S) sorted ray parameters, S = free_samples + interval_samples;
      points: (N * S, 3) the samples o + t w, ray-major;
      live: (N * S,) bool, the sample lies in an occupied cell (the others are empty: alpha 0).
    """
    t_near, t_far = hits.t_near.clamp_min(0.0), hits.t_far
    if occ_grid is not None:
        t_near, t_far = occupied_span(occ_grid, batch.origins, batch.dirs, t_near, t_far)
    render = cfg.rendering
    delta = interval_halfwidth(fraction, render.interval_max, render.interval_min, render.interval_decay)
    t = ray_samples(t_near, t_far, hits.depth, hits.hit, delta, render.free_samples, render.interval_samples, generator)
    points = (batch.origins[:, None, :] + t[..., None] * batch.dirs[:, None, :]).reshape(-1, 3)
    live = occ_grid.occupied(points) if occ_grid is not None else torch.ones_like(points[:, 0], dtype=torch.bool)
    return t, points, live


def volume_outputs(
    field: Field,
    batch: RayBatch,
    hits: SurfaceHits,
    t: torch.Tensor,
    live: torch.Tensor,
    logits: torch.Tensor,
    surface_normals: torch.Tensor | None,
    background: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """The volume render of a batch's rays from their samples' occupancy logits.

    t: (N, S) and live: (N * S,) from ``volume_samples``; logits: (L,) f at the L live samples,
    with gradients; surface_normals: (M, 3) detached outward normals at the M hit rays' surface
    points, or None; background: (N, 3) or None. Alpha o = sigmoid(f) (0 at samples in empty
    cells); the colour t(p, w) is evaluated where the weight is at least WEIGHT_EPS, its shading
    term reading the normal of the ray's surface (its samples lie around it) or, on a ray with
    none, -w (facing the camera). Returns ``composite``'s rgb, acc, weights and
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
    ray_normals = -batch.dirs
    if surface_normals is not None:
        ray_normals = ray_normals.index_put((hits.hit.nonzero().squeeze(1),), surface_normals.detach())
    points = batch.origins[ray] + t.reshape(-1)[index, None] * batch.dirs[ray]
    colours = t.new_zeros(n * s, 3).index_put((index,), field.texture(points, batch.dirs[ray], ray_normals[ray]))
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


def occupancy_probes(batch: RayBatch, hits: SurfaceHits, cfg: FitConfig) -> torch.Tensor:
    """One occupancy probe per ray, (N, 3), detached.

    Its marched surface point if it hit (detached, as in DVR: the freespace term moves the field
    there, not the point), else (``cfg.losses.mask_probe``) its most occupied marching sample ('peak') or
    its random point in the cube ('random', DVR's choice; also the fallback of a ray with no
    evaluated sample).
    """
    miss_probe = batch.random_points
    if cfg.losses.mask_probe == "peak":
        peak = batch.origins + hits.t_peak[:, None] * batch.dirs
        miss_probe = torch.where(hits.t_peak.isnan()[:, None], batch.random_points, peak)
    surface = batch.origins + hits.depth[:, None] * batch.dirs
    return torch.where(hits.hit[:, None], surface, miss_probe).detach()


def step_losses(
    batch: RayBatch, out: dict, cfg: FitConfig, region: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """The loss terms of one step (unweighted scalars) from its rays and ``batch_outputs``.

    The colour is compared on ``out['compared']``: the rays whose render is a colour (all of them
    for a volume step or a background, only the hits for a surface step without one) and, with
    masks and no background model, in the masks. Out-of-mask rays push their occupancy probe empty; in-mask rays
    that missed push it full (no such terms without masks, ``batch.mask`` None); the points on
    sight lines to sparse points (if any) are pushed empty, those just behind the sparse points full.
    With derived masks (``batch.mask_known``) the mask terms apply only where the label is sure,
    and an out-of-mask probe is pushed empty only inside the object's ``region`` (points (N, 3) ->
    (N,) bool): the table or wall past it stays, the background and the rest of the field show it.
    """
    hit, in_mask = out["hit"], batch.mask
    terms = {"rgb": losses.rgb_loss(out["rgb"], batch.rgb, out["compared"])}
    if in_mask is not None:
        empty, full = ~in_mask, in_mask & ~hit
        if batch.mask_known is not None:
            empty, full = empty & batch.mask_known, full & batch.mask_known
            if region is not None:
                empty = empty & region(out["probe_points"])
        terms |= {
            "freespace": losses.freespace_loss(out["probe_logits"], empty),
            "occupancy": losses.occupancy_loss(out["probe_logits"], full),
        }
    if "normals" in out:
        terms["normal"] = losses.normal_loss(*out["normals"].chunk(2), len(batch))
    if "free_logits" in out:
        terms["sparse"] = losses.sight_line_loss(out["free_logits"], out["solid_logits"])
    if cfg.losses.w_depth > 0 and batch.depth is not None:
        terms["depth"] = losses.depth_loss(out["depth"], batch.depth, hit & (batch.depth > 0))
    return terms


def total_loss(terms: dict[str, torch.Tensor], cfg: FitConfig) -> torch.Tensor:
    """sum_k w_k * term_k with the weights ``cfg.losses.w_<name>``."""
    return sum(cfg.losses.weight(name) * value for name, value in terms.items())
