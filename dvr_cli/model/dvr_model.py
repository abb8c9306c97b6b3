"""The DVR model: what is fitted (the field, and without masks the background), the occupancy grid
that skips empty space, what a batch of rays renders to, its loss terms, and the render of a camera.

A step renders its rays either as DVR's surface (the colour at the one marched crossing, the
implicit gradient to the field) or, in ``cfg.rendering.renderer`` 'unified' until ``volume_until`` of
the plan, as UNISURF's volume of the occupancy around that crossing (render/volume.py).

The trainer (fit/trainer.py) owns the optimiser, the ray streams and the run folder; the model owns
the maths of a step and of a render (nerfstudio's Model: ``get_outputs``, ``get_loss_dict``), and
says what the schedule changes on it before a step (``schedule_hooks``: threestudio's
``update_step``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import FitConfig
from ..errors import DvrError
from ..fields import Field
from ..fields.background import make_background
from ..fields.normals import fd_normals, fd_points, normals
from ..render.background_rays import ray_background
from ..render.implicit import surface_points
from ..render.march import SurfaceHits, find_surface
from ..render.occgrid import OccupancyGrid
from ..render.renderer import render_image, shade_hits
from ..render.volume import interval_halfwidth, volume_outputs, volume_samples
from ..scene.camera import Camera
from . import losses
from .ray_batch import RayBatch

COARSE_TO_FINE_SHARE = 0.4  # grid levels are switched on over this share of the plan


def active_levels(fraction: float, n_levels: int) -> int:
    """Coarse-to-fine: 1 level at the start, all ``n_levels`` from COARSE_TO_FINE_SHARE of the plan on."""
    return min(n_levels, 1 + int(fraction * (n_levels - 1) / COARSE_TO_FINE_SHARE + 1e-9))


class DVRModel(nn.Module):
    """The field, the background model (None with masks: the rays that matter are in them) and the
    occupancy grid (None: every point is evaluated), with the settings of ``cfg`` (a FitConfig) that
    render and score them. Build one with :meth:`setup` (a new fit) or :meth:`from_checkpoint`.

    A checkpoint keeps the parts under their own keys (``checkpoint_state``): 'field', 'occ_grid'
    and, without masks, 'background'.
    """

    def __init__(
        self, cfg: FitConfig, field: Field, occ_grid: OccupancyGrid | None = None, background: nn.Module | None = None
    ):
        super().__init__()
        self.cfg = cfg
        self.field = field
        self.background = background
        self.occ_grid = occ_grid

    @classmethod
    def setup(
        cls,
        cfg: FitConfig,
        cameras_unit: list[Camera],
        masks: list[np.ndarray | None],
        colours: np.ndarray | None = None,
        device: str | torch.device = "cpu",
    ) -> DVRModel:
        """A new model for the training views: their unit-frame cameras, their (H, W) bool masks
        (None for a view without one: then the fit has no masks), and their median colours (V, 3)
        (the background's start; needed without masks). The field is initialised from torch's
        global RNG (``cfg.field.setup()``); the occupancy grid is the masks' visual hull, or full
        without masks (nothing tells the object from its surroundings but the colour: the region of
        interest is the whole cube, and what lies past it the background model)."""
        field = cfg.field.setup().to(device)
        has_masks = all(m is not None for m in masks)
        background = None
        if not has_masks:
            if colours is None:
                raise ValueError("a model without masks needs the photos' median colours for its background")
            kind, grid = cfg.rendering.background, cfg.rendering.background_grid
            background = make_background(kind, colours, grid).to(device)
        return cls(cfg, field, cfg.occ_grid.setup(cameras_unit, masks).to(device), background)

    @classmethod
    def from_checkpoint(cls, cfg: FitConfig, state: dict, n_views: int, path: Path, device="cpu") -> DVRModel:
        """The model a checkpoint ``state`` (read from ``path``) holds, fitted with ``cfg`` on
        ``n_views`` training photos, on ``device``; DvrError naming ``path`` when a part does not
        match the config."""
        background = None
        if "background" in state:
            background = make_background(
                cfg.rendering.background, np.full((n_views, 3), 0.5, dtype=np.float32), cfg.rendering.background_grid
            )
        model = cls(cfg, cfg.field.setup(), OccupancyGrid.from_state_dict(state["occ_grid"]), background)
        model.load_checkpoint_state(state, path)
        return model.to(device)

    def _apply(self, fn, recurse: bool = True):
        """``to(device)`` moves the occupancy grid (not a module) with the parameters."""
        super()._apply(fn, recurse)
        if self.occ_grid is not None:
            self.occ_grid.bits = fn(self.occ_grid.bits)
            if self.occ_grid.hull is not None:
                self.occ_grid.hull = fn(self.occ_grid.hull)
        return self

    # ---- checkpoints
    def checkpoint_state(self) -> dict:
        """The checkpoint's entries of the model: 'field', 'occ_grid' and (without masks) 'background'."""
        state = {"field": self.field.state_dict(), "occ_grid": self.occ_grid.state_dict()}
        if self.background is not None:
            state["background"] = self.background.state_dict()
        return state

    def load_checkpoint_state(self, state: dict, path: Path | None = None) -> None:
        """Load ``checkpoint_state``'s entries; DvrError naming ``path`` when a part does not match."""
        parts = [("field", self.field)] + ([] if self.background is None else [("background", self.background)])
        for key, module in parts:
            try:
                module.load_state_dict(state[key])
            except (RuntimeError, KeyError):
                raise DvrError(f"the checkpoint's {key} does not match the run's config", path) from None
        self.occ_grid.load_state_dict(state["occ_grid"])

    # ---- what the schedule changes before a step
    def schedule_hooks(self) -> list[Callable[[int, float], None]]:
        """``f(iteration, fraction)`` to call, in this order, before each step: the occupancy grid's
        refresh from the field every ``cfg.occ_grid.update_every`` iterations (none at the
        first), then the coarse-to-fine levels at that fraction of the plan (``active_levels``)."""
        return [self._refresh_grid, self._set_levels]

    def _refresh_grid(self, iteration: int, fraction: float) -> None:
        if iteration > 0 and iteration % self.cfg.occ_grid.update_every == 0:
            self.occ_grid.update(self.field.occupancy_logits, self.cfg.rendering.tau)

    def _set_levels(self, iteration: int, fraction: float) -> None:
        self.field.set_active_levels(active_levels(fraction, self.field.n_levels))

    # ---- a step
    def get_outputs(
        self, batch: RayBatch, fraction: float, generator: torch.Generator, n_samples: int | None = None
    ) -> dict[str, torch.Tensor]:
        """The render of a batch's rays and every field query its losses need.

        ``fraction``: share of the plan done (it picks the renderer, ``cfg.rendering.volume_rendered``,
        the volume's interval and, unless ``n_samples`` is given, the marching samples
        ``cfg.schedule.n_samples(fraction)``); ``generator``: the random draws of the step (the
        background's samples, the normals' jitter, the volume's samples, in this order).
        After marching (no gradients), all the step's differentiable occupancy queries (the surface
        points of the implicit depth, the occupancy probes, the finite-difference stencil of the
        normals, the volume samples) go through one ``field.occupancy_logits`` call: one forward and
        one parameter-sized gradient instead of one per query. Without masks each ray's colour past
        the cube is the background model's (``ray_background``).
        Returns ``shade_hits``' dict (depth, points, rgb, hit, t_peak, ...), or for a volume step
        ``volume_outputs``' (rgb, acc, depth, hit, t_peak, ...), and
          compared (N,) bool: the rays whose colour the rgb term compares (see ``get_loss_dict``);
          n_evaluated: int, field evaluations of the marcher;
          probe_logits (N,), probe_points (N, 3): f at each ray's ``occupancy_probes`` point, and the point;
          free_logits, solid_logits (S,), when the batch has ``free_points``: f at those points and
            at the ``solid_points``;
          normals (2M, 3), when cfg.losses.w_normal > 0 and M > 0 rays hit: outward normals at the M
            surface points (detached), then at M copies jittered by cfg.losses.normal_jitter.
        """
        cfg, field = self.cfg, self.field
        render, weights = cfg.rendering, cfg.losses
        n_samples = cfg.schedule.n_samples(fraction) if n_samples is None else n_samples
        background = None
        if self.background is not None:
            background = ray_background(
                self.background, batch.origins, batch.dirs, batch.view_index, render.background_samples, generator
            )
        hits = find_surface(
            field.occupancy_logits,
            batch.origins,
            batch.dirs,
            n_samples,
            render.tau,
            render.n_secant,
            self.occ_grid,
            stop_at_hit=render.stop_at_hit,
        )  # a hit's probe is its surface point, not its peak
        surface = surface_points(batch.origins, batch.dirs, hits)
        volume = render.volume_rendered(fraction)
        queries = {"probe": occupancy_probes(batch, hits, cfg.losses.mask_probe)}
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
            delta = interval_halfwidth(fraction, render.interval_max, render.interval_min, render.interval_decay)
            t, points, live = volume_samples(
                batch.origins,
                batch.dirs,
                hits,
                delta,
                render.free_samples,
                render.interval_samples,
                self.occ_grid,
                generator,
            )
            queries["volume"] = points[live]
        split = field.occupancy_logits(torch.cat(list(queries.values()))).split([len(q) for q in queries.values()])
        logits = dict(zip(queries, split))
        fd = fd_normals(logits["stencil"], weights.normal_fd_step) if "stencil" in logits else None
        # the first M stencil normals are at the surface points: the shading term reads them (detached)
        # instead of evaluating a stencil of its own there
        surface_normals = None if fd is None else fd[: len(surface)]
        n_evaluated = hits.n_evaluated
        if volume:
            out = volume_outputs(
                field, batch.origins, batch.dirs, hits, t, live, logits["volume"], surface_normals, background
            )
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
        out.update(
            n_evaluated=n_evaluated, probe_logits=logits["probe"], probe_points=queries["probe"], compared=compared
        )
        if "free" in logits:
            out["free_logits"], out["solid_logits"] = logits["free"], logits["solid"]
        if jittered is not None:
            out["normals"] = fd if fd is not None else normals(field, jittered, create_graph=True)
        return out

    def get_loss_dict(
        self, outputs: dict, batch: RayBatch, region: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """The loss terms of one step (unweighted scalars) from its rays and ``get_outputs``.

        The colour is compared on ``outputs['compared']``: the rays whose render is a colour (all of
        them for a volume step or a background, only the hits for a surface step without one) and,
        with masks and no background model, in the masks. Out-of-mask rays push their occupancy probe
        empty; in-mask rays that missed push it full (no such terms without masks, ``batch.mask``
        None); the points on sight lines to sparse points (if any) are pushed empty, those just
        behind the sparse points full. With derived masks (``batch.mask_known``, fit/object_phase.py)
        the mask terms apply only where the label is sure, and an out-of-mask probe is pushed empty
        only inside the object's ``region`` (points (N, 3) -> (N,) bool): the table or wall past it
        stays, the background and the rest of the field show it.
        """
        out, hit, in_mask = outputs, outputs["hit"], batch.mask
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
        if self.cfg.losses.w_depth > 0 and batch.depth is not None:
            terms["depth"] = losses.depth_loss(out["depth"], batch.depth, hit & (batch.depth > 0))
        return terms

    def total_loss(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        """sum_k w_k * term_k with the weights ``cfg.losses.w_<name>``."""
        return sum(self.cfg.losses.weight(name) * value for name, value in terms.items())

    # ---- a render
    def render_camera(
        self,
        camera_unit: Camera,
        n_samples: int | None = None,
        background=None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Render a unit-frame camera with the model's settings (``render_image``: its threshold
        ``cfg.rendering.tau``, secant steps, occupancy grid): numpy rgb (H, W, 3), depth (H, W)
        (unit-frame ray length, 0 on miss), normal (H, W, 3), mask (H, W) bool.

        ``n_samples``: marching samples (default ``cfg.rendering.render_samples``); ``background``: the
        colour (3,) where no surface is hit, or None: the background model (a fit without masks, the
        mean exposure), else white. ``progress(done_rays, total_rays)`` after each chunk.
        """
        rendering = self.cfg.rendering
        return render_image(
            self.field,
            camera_unit,
            n_samples or rendering.render_samples,
            tau=rendering.tau,
            occ_grid=self.occ_grid,
            background=(1.0, 1.0, 1.0) if background is None else background,
            progress=progress,
            n_secant=rendering.n_secant,
            background_model=self.background if background is None else None,
            background_samples=rendering.background_samples,
        )


def occupancy_probes(batch: RayBatch, hits: SurfaceHits, mask_probe: str) -> torch.Tensor:
    """One occupancy probe per ray, (N, 3), detached.

    Its marched surface point if it hit (detached, as in DVR: the freespace term moves the field
    there, not the point), else (``mask_probe``) its most occupied marching sample ('peak') or
    its random point in the cube ('random', DVR's choice; also the fallback of a ray with no
    evaluated sample).
    """
    miss_probe = batch.random_points
    if mask_probe == "peak":
        peak = batch.origins + hits.t_peak[:, None] * batch.dirs
        miss_probe = torch.where(hits.t_peak.isnan()[:, None], batch.random_points, peak)
    surface = batch.origins + hits.depth[:, None] * batch.dirs
    return torch.where(hits.hit[:, None], surface, miss_probe).detach()
