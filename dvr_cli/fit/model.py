"""The DVR objective: what one batch of rays renders to, and the loss terms of a batch and its render.

The loop (trainer.py) owns the optimiser and the run folder; this module owns only the maths of
a step, as pure functions over the field, a ray batch and the config (nerfstudio's "model":
outputs of a batch, losses of a batch and its outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import FitConfig
from ..fields import Field
from ..render.implicit import surface_points
from ..render.march import SurfaceHits, find_surface
from ..render.normals import fd_normals, fd_points, normals
from ..render.occgrid import OccupancyGrid
from ..render.renderer import shade_hits
from . import losses
from .sampler import RayBatch


@dataclass
class StepRecord:
    """What one step did.

    terms: each loss term, unweighted; total: the weighted sum that was minimised;
    hit_rate: share of the rays that found a surface; evaluations: field evaluations of the
    marcher; n_steps: marching steps per ray; lr: learning rate; fraction: share of the plan done
    when the step started.
    """

    terms: dict[str, float]
    total: float
    hit_rate: float
    evaluations: int
    n_steps: int
    lr: float
    fraction: float

    def to_json(self) -> dict:
        """The metrics.jsonl fields of this step."""
        return {**self.terms, "total": self.total, "hit": self.hit_rate, "march_evals": self.evaluations,
                "n_steps": self.n_steps, "lr": self.lr, "fraction": round(self.fraction, 5)}


def batch_outputs(field: Field, batch: RayBatch, cfg: FitConfig, n_steps: int, occ_grid: OccupancyGrid | None,
                  generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The render of a batch's rays and every field query its losses need.

    After marching (no gradients), all the step's differentiable occupancy queries (the surface
    points of the implicit depth, the occupancy probes, the finite-difference stencil of the
    normals) go through one ``field.occupancy_logits`` call: one forward and one parameter-sized
    gradient instead of one per query. Returns ``shade_hits``' dict (depth, points, rgb, hit,
    t_peak, ...) and
      n_evaluated: int, field evaluations of the marcher;
      probe_logits (N,): f at each ray's ``occupancy_probes`` point;
      free_logits, solid_logits (S,), when the batch has ``free_points``: f at those points and
        at the ``solid_points``;
      normals (2M, 3), when cfg.w_normal > 0 and M > 0 rays hit: outward normals at the M surface
        points (detached), then at M copies jittered by cfg.normal_eps (noise from ``generator``).
    """
    hits = find_surface(field.occupancy_logits, batch.origins, batch.dirs, n_steps, cfg.tau, cfg.n_secant, occ_grid,
                        stop_at_hit=cfg.stop_at_hit)  # a hit's probe is its surface point, not its peak
    surface = surface_points(batch.origins, batch.dirs, hits)
    queries = {"surface": surface, "probe": occupancy_probes(batch, hits, cfg)}
    if batch.free_points is not None:
        queries["free"], queries["solid"] = batch.free_points, batch.solid_points
    jittered = None
    if cfg.w_normal > 0 and hits.hit.any():
        noise = torch.randn(surface.shape, generator=generator).to(surface.device)
        jittered = torch.cat([surface, surface + cfg.normal_eps * noise]).detach()
        if cfg.normal_fd_step > 0:
            queries["stencil"] = fd_points(jittered, cfg.normal_fd_step)
    split = field.occupancy_logits(torch.cat(list(queries.values()))).split([len(q) for q in queries.values()])
    logits = dict(zip(queries, split))
    fd = fd_normals(logits["stencil"], cfg.normal_fd_step) if "stencil" in logits else None
    # the first M stencil normals are at the surface points: the shading term reads them (detached)
    # instead of evaluating a stencil of its own there
    out = shade_hits(field, batch.origins, batch.dirs, hits, logits["surface"],
                     None if fd is None else fd[: len(surface)])
    out.update(n_evaluated=hits.n_evaluated, probe_logits=logits["probe"])
    if "free" in logits:
        out["free_logits"], out["solid_logits"] = logits["free"], logits["solid"]
    if jittered is not None:
        out["normals"] = fd if fd is not None else normals(field, jittered, create_graph=True)
    return out


def occupancy_probes(batch: RayBatch, hits: SurfaceHits, cfg: FitConfig) -> torch.Tensor:
    """One occupancy probe per ray, (N, 3), detached.

    Its marched surface point if it hit (detached, as in DVR: the freespace term moves the field
    there, not the point), else (``cfg.mask_probe``) its most occupied marching sample ('peak') or
    its random point in the cube ('random', DVR's choice; also the fallback of a ray with no
    evaluated sample).
    """
    miss_probe = batch.random_points
    if cfg.mask_probe == "peak":
        peak = batch.origins + hits.t_peak[:, None] * batch.dirs
        miss_probe = torch.where(hits.t_peak.isnan()[:, None], batch.random_points, peak)
    surface = batch.origins + hits.depth[:, None] * batch.dirs
    return torch.where(hits.hit[:, None], surface, miss_probe).detach()


def step_losses(batch: RayBatch, out: dict, cfg: FitConfig) -> dict[str, torch.Tensor]:
    """The loss terms of one step (unweighted scalars) from its rays and ``batch_outputs``.

    Out-of-mask rays push their occupancy probe empty; in-mask rays that missed push it full;
    the points on sight lines to sparse points (if any) are pushed empty, those just behind the
    sparse points full.
    """
    hit, in_mask = out["hit"], batch.mask
    terms = {
        "rgb": losses.rgb_loss(out["rgb"], batch.rgb, hit & in_mask),
        "freespace": losses.freespace_loss(out["probe_logits"], ~in_mask),
        "occupancy": losses.occupancy_loss(out["probe_logits"], in_mask & ~hit),
    }
    if "normals" in out:
        terms["normal"] = losses.normal_loss(*out["normals"].chunk(2), len(batch))
    if "free_logits" in out:
        terms["sparse"] = losses.sight_line_loss(out["free_logits"], out["solid_logits"])
    if cfg.w_depth > 0 and batch.depth is not None:
        terms["depth"] = losses.depth_loss(out["depth"], batch.depth, hit & (batch.depth > 0))
    return terms


def total_loss(terms: dict[str, torch.Tensor], cfg: FitConfig) -> torch.Tensor:
    """sum_k w_k * term_k with the weights ``cfg.w_<name>``."""
    return sum(getattr(cfg, f"w_{name}") * value for name, value in terms.items())
