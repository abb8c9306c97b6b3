"""The optimisation loop of multi-view DVR: sample rays, render surfaces, apply the losses.

One iteration: draw rays (sampler.py), find each ray's first surface crossing and its
differentiable depth and colour (render.renderer.render_rays), evaluate the occupancy at one
probe point per ray, sum the weighted loss terms (losses.py), take an Adam step. The loop owns
the run folder's bookkeeping (metrics, previews, checkpoints) and stops on the iteration count,
the wall clock or Ctrl-C, always leaving a checkpoint that resumes bit-for-bit.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..config import FitConfig
from ..errors import DvrError
from ..fields import Field, build_field
from ..render.normals import normals, normals_fd
from ..render.occgrid import OccupancyGrid
from ..render.renderer import render_image, render_rays
from ..runtime import resolve_device
from ..scene.types import Scene
from . import losses
from .checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from .run import CHECKPOINT, CONFIG, METRICS, PREVIEWS, SCENE, append_metrics, holdout_split, scene_info, \
    truncate_metrics, update_latest_link, write_json
from .sampler import RayBatch, RaySampler

LOG_EVERY = 25  # iterations between metrics.jsonl records
COARSE_TO_FINE_SHARE = 0.4  # grid levels are switched on over this share of the iterations
PREVIEW_SIZE = 256  # long side of preview renders, pixels
MASK_PROBES = ("peak", "random")


@dataclass
class FitResult:
    """What a fit did: its folder, iterations done in total, seconds of this call, last loss terms."""

    run_dir: Path
    iterations: int
    seconds: float
    last_losses: dict[str, float] = dataclass_field(default_factory=dict)
    interrupted: bool = False


# ------------------------------------------------------------------------------ checks
def _mask_source(scene: Scene) -> str:
    """Where the masks came from, for error messages: the --masks folder, the loader's note, or the scene."""
    given = (scene.meta.get("load_args") or {}).get("masks") or scene.meta.get("masks")
    if given == "camera file":
        given = scene.meta.get("cameras_file")
    return str(given or scene.source or "masks")


def check_masks(scene: Scene) -> None:
    """DvrError unless every view has a mask and the masks hold both object and background."""
    if not scene.has_masks:
        raise DvrError(
            "fitting needs an object mask for every view (white = object): pass --masks DIR or use a "
            "calibrated scene folder with masks/",
            scene.source,
        )
    n_object = sum(int(v.mask.sum()) for v in scene.views)
    n_total = sum(v.mask.size for v in scene.views)
    if n_object == 0:
        raise DvrError("every mask is empty (all black): white must mark the object", _mask_source(scene))
    if n_object == n_total:
        raise DvrError("every mask is full (all white): black must mark the background", _mask_source(scene))


def active_levels(iteration: int, iters: int, n_levels: int) -> int:
    """Coarse-to-fine: 1 level at iteration 0, all ``n_levels`` from COARSE_TO_FINE_SHARE * iters on."""
    span = max(COARSE_TO_FINE_SHARE * iters, 1.0)
    return min(n_levels, 1 + int(iteration * (n_levels - 1) / span))


# --------------------------------------------------------------------------- one step
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


# ---------------------------------------------------------------------- bookkeeping
def save_preview(field: Field, scene: Scene, view_index: int, cfg: FitConfig, iteration: int,
                 occ_grid: OccupancyGrid | None, run_dir: Path) -> Path:
    """Render one view at <= PREVIEW_SIZE px next to its photo: previews/iter_XXXXXX.png."""
    view = scene.views[view_index]
    camera = scene.normalization.camera_to_unit(view.camera)
    factor = min(1.0, PREVIEW_SIZE / max(camera.width, camera.height))
    w, h = max(1, round(camera.width * factor)), max(1, round(camera.height * factor))
    was_training = field.training
    field.eval()
    rendered = render_image(field, camera.resized(w, h), cfg.n_steps(iteration), tau=cfg.tau, occ_grid=occ_grid)
    field.train(was_training)
    photo = Image.fromarray((np.clip(view.image, 0, 1) * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR)
    pair = np.concatenate([(np.clip(rendered["rgb"], 0, 1) * 255).astype(np.uint8), np.asarray(photo)], axis=1)
    path = Path(run_dir) / PREVIEWS / f"iter_{iteration:06d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pair).save(path)
    return path


@contextmanager
def _sigint_as_flag():
    """Within the block the first Ctrl-C only sets ``flag['stop']`` (the loop ends its step and
    saves); a second one raises KeyboardInterrupt as usual. Outside the main thread, no change."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag["stop"] = True
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress(console: Console | None, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]fit"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not enabled, transient=False,
    )


# ------------------------------------------------------------------------------- fit
class _Fit:
    """The state of one fit: field, optimiser, scheduler, sampler, occupancy grid, iteration."""

    def __init__(self, scene: Scene, cfg: FitConfig, run_dir: Path, train: list[int]):
        self.scene, self.cfg, self.run_dir, self.train = scene, cfg, run_dir, train
        if cfg.mask_probe not in MASK_PROBES:
            raise DvrError(f"mask_probe must be one of {', '.join(MASK_PROBES)}, got '{cfg.mask_probe}'")
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        train_scene = scene.subset(train)
        cameras = train_scene.unit_cameras()
        self.sampler = RaySampler(train_scene.views, cameras, scene.normalization.scale, cfg.rays_per_step,
                                  cfg.views_per_step, cfg.mask_ray_fraction, self.device, self.generator,
                                  cfg.edge_ray_fraction)
        self.field = build_field(cfg).to(self.device)
        self.optimizer = torch.optim.Adam(self.field.parameters(), lr=cfg.lr, fused=True)
        gamma = cfg.lr_final_ratio ** (1.0 / max(cfg.iters, 1))
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma)
        self.grid = OccupancyGrid.from_masks(cameras, [v.mask for v in train_scene.views], cfg.occ_grid_res)
        self.grid = self.grid.to(self.device)
        self.iteration = 0
        self.rng_at_iteration = capture_rng(self.generator)

    # ---- checkpoints
    def state(self) -> dict:
        """Checkpoint after the last finished iteration (RNG as it was when that iteration ended, so
        an interruption mid-step loses the step but not the equality with an uninterrupted fit)."""
        return {
            "iteration": self.iteration,
            "field": self.field.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": self.rng_at_iteration,
            "occ_grid": self.grid.state_dict(),
            "config": json.dumps(self.cfg.to_json()),
        }

    def restore(self, state: dict) -> None:
        self.field.load_state_dict(state["field"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.grid.load_state_dict(state["occ_grid"])
        self.iteration = int(state["iteration"])
        self.rng_at_iteration = state["rng"]
        restore_rng(state["rng"], self.generator)

    def save(self) -> None:
        save_checkpoint(self.run_dir / CHECKPOINT, self.state())

    # ---- one iteration
    def step(self) -> tuple[dict[str, float], int]:
        """Run iteration ``self.iteration``; returns its loss terms and the marching steps used."""
        cfg, it = self.cfg, self.iteration
        if it > 0 and it % cfg.occ_grid_every == 0:
            self.grid.update(self.field.occupancy_logits, cfg.tau)
        if hasattr(self.field, "set_active_levels"):
            self.field.set_active_levels(active_levels(it, cfg.iters, self.field.n_levels))
        n_steps = cfg.n_steps(it)
        batch = self.sampler.sample()
        out = render_rays(self.field, batch.origins, batch.dirs, n_steps, cfg.tau, cfg.n_secant, self.grid)
        terms = step_losses(self.field, batch, out, cfg, self.generator)
        loss = total_loss(terms, cfg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.iteration += 1
        self.rng_at_iteration = capture_rng(self.generator)
        values = {name: float(value.detach()) for name, value in terms.items()}
        values["total"] = float(loss.detach())
        values["hit"] = float(out["hit"].float().mean())
        values["march_evals"] = float(out["n_evaluated"])
        return values, n_steps


def _prepare_folder(run_dir: Path, cfg: FitConfig, resume: bool) -> dict | None:
    """Validate the run folder before anything is written; the checkpoint to resume from, if any."""
    checkpoint = run_dir / CHECKPOINT
    if resume:
        if not checkpoint.is_file():
            raise DvrError(f"nothing to resume: no {CHECKPOINT}", run_dir)
        return load_checkpoint(checkpoint, cfg)
    if checkpoint.exists():
        raise DvrError("already holds a fit: pass --resume to continue it or choose another --out", run_dir)
    return None


StepHook = Callable[[int, Field, OccupancyGrid], bool]


def fit(scene: Scene, cfg: FitConfig, run_dir: str | Path, resume: bool = False,
        console: Console | None = None, progress: bool = True, hook: StepHook | None = None) -> FitResult:
    """Fit occupancy + texture fields to ``scene``'s views, writing the run folder ``run_dir``.

    Stops after ``cfg.iters`` iterations, ``cfg.minutes`` of wall clock, or Ctrl-C, and always
    leaves ``checkpoints/latest.pt``. With ``resume`` it continues that checkpoint; the result
    equals an uninterrupted fit of the same config (bit-for-bit on CPU).
    Raises DvrError for missing / empty / full masks, cameras that do not see the unit cube, or
    a resume whose config or checkpoint does not match (the folder is then left untouched).
    ``hook(iteration, field, occ_grid)`` runs after every step (benchmarks evaluate quality in it);
    it returns True to stop, and its time is not counted in the budget nor in ``seconds``.
    """
    run_dir = Path(run_dir)
    check_masks(scene)
    train, holdout = holdout_split(len(scene), cfg.holdout)
    if not train:
        raise DvrError(f"--holdout {cfg.holdout} leaves no view to fit ({len(scene)} views)")
    state = _prepare_folder(run_dir, cfg, resume)
    job = _Fit(scene, cfg, run_dir, train)
    if state is not None:
        job.restore(state)
        truncate_metrics(run_dir, job.iteration)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / CONFIG)
        write_json(run_dir / SCENE, scene_info(scene, train, holdout))
        (run_dir / METRICS).unlink(missing_ok=True)
    update_latest_link(run_dir)
    return _loop(job, console, progress, hook)


def _loop(job: _Fit, console: Console | None, progress: bool, hook: StepHook | None) -> FitResult:
    cfg = job.cfg
    start = time.monotonic()
    deadline = start + cfg.minutes * 60 if cfg.minutes else None
    last_checkpoint = last_preview = window_start = start
    window_iters, values, interrupted = 0, {}, False
    bar = _progress(console, progress)
    with _sigint_as_flag() as flag, bar:
        task = bar.add_task("fit", total=cfg.iters, completed=job.iteration, status="")
        try:
            while job.iteration < cfg.iters and not flag["stop"] and (deadline is None or time.monotonic() < deadline):
                values, n_steps = job.step()
                window_iters += 1
                now = time.monotonic()
                rays_per_s = window_iters * cfg.rays_per_step / max(now - window_start, 1e-9)
                bar.update(task, completed=job.iteration, status=_status(values, rays_per_s))
                if job.iteration % LOG_EVERY == 0 or job.iteration == cfg.iters:
                    append_metrics(job.run_dir, {"iter": job.iteration, "time": round(now - start, 3), **values,
                                                 "rays_per_s": round(rays_per_s, 1), "n_steps": n_steps,
                                                 "lr": job.scheduler.get_last_lr()[0]})
                    window_start, window_iters = now, 0
                if now - last_checkpoint >= cfg.checkpoint_every_s:
                    job.save()
                    last_checkpoint = time.monotonic()
                if now - last_preview >= cfg.preview_every_s:
                    save_preview(job.field, job.scene, job.train[0], cfg, job.iteration, job.grid, job.run_dir)
                    last_preview = time.monotonic()
                if hook is not None:
                    hook_start = time.monotonic()
                    stop = hook(job.iteration, job.field, job.grid)
                    paused = time.monotonic() - hook_start  # shift every clock past the hook's time
                    start, window_start, last_checkpoint, last_preview = (
                        t + paused for t in (start, window_start, last_checkpoint, last_preview))
                    deadline = None if deadline is None else deadline + paused
                    if stop:
                        break
        except KeyboardInterrupt:
            interrupted = True  # a second Ctrl-C mid-step: the checkpoint keeps the last finished iteration
        interrupted = interrupted or flag["stop"]
        job.save()
    if not interrupted:
        save_preview(job.field, job.scene, job.train[0], cfg, job.iteration, job.grid, job.run_dir)
    return FitResult(job.run_dir, job.iteration, time.monotonic() - start, values, interrupted)


def _status(values: dict[str, float], rays_per_s: float) -> str:
    terms = " ".join(f"{k} {v:.4f}" for k, v in values.items() if k not in ("hit", "march_evals"))
    return f"{terms} | hit {values.get('hit', 0):.2f} | {rays_per_s:,.0f} rays/s"
