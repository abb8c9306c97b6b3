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
from ..render.normals import normals, normals_fd
from ..render.occgrid import OccupancyGrid
from ..render.renderer import render_rays
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


def batch_outputs(field: Field, batch: RayBatch, cfg: FitConfig, n_steps: int,
                  occ_grid: OccupancyGrid | None) -> dict[str, torch.Tensor]:
    """The render of a batch's rays (``render_rays``' dict: depth, points, rgb, hit, t_peak, ...)."""
    return render_rays(field, batch.origins, batch.dirs, n_steps, cfg.tau, cfg.n_secant, occ_grid)


def step_losses(field: Field, batch: RayBatch, out: dict, cfg: FitConfig,
                generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The loss terms of one step (unweighted scalars) from its rays and their render.

    Each ray gets one occupancy probe: its predicted surface point if it hit (detached, as in
    DVR: the freespace term moves the field there, not the point), else (``cfg.mask_probe``) its
    most occupied marching sample ('peak') or its random point in the cube ('random', DVR's
    choice; also the fallback of a ray with no evaluated sample). Out-of-mask rays push the probe
    empty; in-mask rays that missed push it full.
    """
    hit, in_mask = out["hit"], batch.mask
    miss_probe = batch.random_points
    if cfg.mask_probe == "peak":
        peak = batch.origins + out["t_peak"][:, None] * batch.dirs
        miss_probe = torch.where(out["t_peak"].isnan()[:, None], batch.random_points, peak)
    probe = torch.where(hit[:, None], out["points"].detach(), miss_probe)
    logits = field.occupancy_logits(probe)
    terms = {
        "rgb": losses.rgb_loss(out["rgb"], batch.rgb, hit & in_mask),
        "freespace": losses.freespace_loss(logits, ~in_mask),
        "occupancy": losses.occupancy_loss(logits, in_mask & ~hit),
    }
    if cfg.w_normal > 0 and hit.any():
        surface = out["points"][hit].detach()
        noise = torch.randn(surface.shape, generator=generator).to(surface.device)
        both = torch.cat([surface, surface + cfg.normal_eps * noise])
        if cfg.normal_fd_step > 0:
            n = normals_fd(field, both, cfg.normal_fd_step)
        else:
            n = normals(field, both, create_graph=True)
        terms["normal"] = losses.normal_loss(*n.chunk(2), len(batch))
    if cfg.w_depth > 0 and batch.depth is not None:
        terms["depth"] = losses.depth_loss(out["depth"], batch.depth, hit & (batch.depth > 0))
    return terms


def total_loss(terms: dict[str, torch.Tensor], cfg: FitConfig) -> torch.Tensor:
    """sum_k w_k * term_k with the weights ``cfg.w_<name>``."""
    return sum(getattr(cfg, f"w_{name}") * value for name, value in terms.items())
