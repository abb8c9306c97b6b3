"""The optimisation loop of multi-view DVR: sample rays, render, step, keep the run folder.

One iteration: draw rays (sampler.py), render them and take the loss terms of the DVR objective
(model.py), take an Adam step. The schedule (learning rate, coarse-to-fine levels, marching
steps) follows the fraction of the plan done: iterations over ``cfg.schedule.iters``, or seconds over
the time budget when the fit is planned in time. The loop locks the run folder, calls its hooks at
named points (hooks.py: the checkpoints, metrics and previews of the run folder, and the caller's:
a progress display, the viewer) and stops at the end of the plan, when a hook asks, or on Ctrl-C,
always leaving a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import random
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..calib.triangulate import SparsePoints, triangulate
from ..config import FitConfig
from ..errors import DvrError
from ..fields.background import make_background, median_colours
from ..fields.compiled import compile_field
from ..files import to_uint8
from ..ownership import claim_folder, remove_written
from ..render.background import ray_background
from ..run import CHECKPOINT, CONFIG, METRICS, SCENE, SPARSE, RunLock, SceneRecord, holdout_split
from ..run.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from ..run.folder import adopt_old_run, resolve_run_dir, truncate_metrics, update_latest_link
from ..runtime import resolve_device
from ..scene.types import Scene
from ..scene.write import scene_inputs
from . import distributed
from .hooks import Checkpoints, LoopHook, Metrics, Previews, StepCallback
from .model import StepRecord, batch_outputs, step_losses, total_loss
from .object_phase import DerivedMasks, ObjectPhase, apply
from .resume import recorded_scene, resumed_config
from .sightlines import sight_lines

COARSE_TO_FINE_SHARE = 0.4  # grid levels are switched on over this share of the plan


@dataclass
class FitResult:
    """What a fit did: its folder, iterations done in total, seconds of this call, the last step,
    whether the field ran compiled (``cfg.rendering.compile`` and no fallback)."""

    run_dir: Path
    iterations: int
    seconds: float
    last: StepRecord | None = None
    interrupted: bool = False
    compiled: bool = False


# ------------------------------------------------------------------------------ checks
def _mask_source(scene: Scene) -> str:
    """Where the masks came from, for error messages: the --masks folder, the loader's note, or the scene."""
    given = (scene.meta.get("load_args") or {}).get("masks") or scene.meta.get("masks")
    if given == "camera file":
        given = scene.meta.get("cameras_file")
    return str(given or scene.source or "masks")


def check_masks(scene: Scene) -> None:
    """DvrError unless the masks, if every view has one, hold both object and background (a scene
    where any view lacks a mask is fitted without masks)."""
    if not scene.has_masks:
        return
    n_object = sum(int(v.mask.sum()) for v in scene.views)
    n_total = sum(v.mask.size for v in scene.views)
    if n_object == 0:
        raise DvrError("every mask is empty (all black): white must mark the object", _mask_source(scene))
    if n_object == n_total:
        raise DvrError("every mask is full (all white): black must mark the background", _mask_source(scene))


def active_levels(fraction: float, n_levels: int) -> int:
    """Coarse-to-fine: 1 level at the start, all ``n_levels`` from COARSE_TO_FINE_SHARE of the plan on."""
    return min(n_levels, 1 + int(fraction * (n_levels - 1) / COARSE_TO_FINE_SHARE + 1e-9))


@contextmanager
def _sigint_as_flag():
    """Within the block the first Ctrl-C or SIGTERM (what Ray, SLURM and Kubernetes send) only sets
    ``flag['stop']`` (the loop ends its step and saves); a second one does what it did before the
    block. Outside the main thread, no change."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag["stop"] = True
        signal.signal(signum, previous[signum])

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for signum, action in previous.items():
            signal.signal(signum, action)


# ------------------------------------------------------------------------------- fit
class FitJob:
    """The state of one fit, as the loop and its hooks see it.

    Attributes: ``cfg``, ``scene``, ``run_dir``, ``train`` (view indices fitted), ``field``,
    ``optimizer``, ``occ_grid``, ``sampler``, ``generator`` (the sampler's RNG), ``background``
    (the model of what lies past the cube, ``cfg.rendering.background``, without masks; else None), ``iteration``
    (iterations done), ``elapsed`` (seconds of fitting done, over every session of the run),
    ``record`` (the last step's StepRecord, None before the first), ``compiled`` (the field runs
    compiled: ``cfg.rendering.compile`` and no fallback), ``hooks`` (the loop's; ``save()`` calls
    their ``on_checkpoint``), ``paused`` (seconds of the caller's hooks, which ``clock()`` leaves out).
    """

    def __init__(self, scene: Scene, cfg: FitConfig, run_dir: Path, train: list[int]):
        self.scene, self.cfg, self.run_dir, self.train = scene, cfg, run_dir, train
        self.device = resolve_device(cfg.device)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(distributed.sampler_seed(cfg.seed))  # global streams: cfg.seed
        train_scene = scene.subset(train)
        cameras = train_scene.unit_cameras()
        masks = [v.mask for v in train_scene.views] if train_scene.has_masks else [None] * len(cameras)
        lines = None
        if cfg.losses.w_sparse > 0:
            lines = sight_lines(
                _sparse_points(train_scene, run_dir / SPARSE), cameras, masks, scene.normalization.to_unit, self.device
            )
        share = dataclasses.replace(cfg.sampler, rays_per_step=distributed.ray_share(cfg.sampler.rays_per_step))
        self.sampler = share.setup(
            train_scene.views, cameras, scene.normalization.scale, self.device, self.generator, sight_lines=lines
        )
        self.field = cfg.field.setup().to(self.device)
        distributed.broadcast_module(self.field)
        # without masks nothing tells the object from its surroundings but the colour: the region of
        # interest is the whole unit cube, and what lies beyond it the background model
        self.compilation = compile_field(self.field, cfg.rendering.compile)
        self.background = None
        parameters = list(self.field.parameters())
        if not train_scene.has_masks:
            self.background = make_background(
                cfg.rendering.background,
                median_colours([v.image for v in train_scene.views]),
                cfg.rendering.background_grid,
            ).to(self.device)
            distributed.broadcast_module(self.background)
            parameters += list(self.background.parameters())
        self.optimizer = cfg.optimizer.setup(parameters, self.field.lazy_parameters())
        self.occ_grid = cfg.occ_grid.setup(cameras, masks).to(self.device)
        self.iteration = 0
        self.elapsed = 0.0
        self.step_seconds = 0.0  # moving average of the time of a step with its bookkeeping (this session)
        self.record: StepRecord | None = None
        self.rng_at_iteration = capture_rng(self.generator)
        self.hooks: list[LoopHook] = []
        self.paused = 0.0
        # the object phase's masks (object_phase.py): None before it, and always with given masks
        self.derived: DerivedMasks | None = None
        self.object_phase = not train_scene.has_masks and cfg.schedule.object_share > 0

    def clock(self) -> float:
        """Seconds on the fit's clock: time.monotonic() less the time the caller's hooks took."""
        return time.monotonic() - self.paused

    def rays_per_s(self, since: float, since_iteration: int) -> float:
        """Rays fitted per second from ``since`` (the fit's clock) at iteration ``since_iteration`` to now."""
        rays = (self.iteration - since_iteration) * self.cfg.sampler.rays_per_step
        return rays / max(self.clock() - since, 1e-9)

    @property
    def compiled(self) -> bool:
        """The field's per-point work runs compiled (``cfg.rendering.compile``, and no compile has failed)."""
        return self.compilation is not None and self.compilation.active

    # ---- the plan
    @property
    def fraction(self) -> float:
        """Share of the plan done: iterations / iters, or elapsed seconds / the time budget."""
        if self.cfg.time_planned:
            return min(1.0, self.elapsed / (60.0 * self.cfg.budget_minutes))
        return min(1.0, self.iteration / self.cfg.schedule.iters)

    @property
    def done(self) -> bool:
        """The plan is finished, or its wall clock: less than half a step's time is left (so a fit
        ends within half a step of its budget, before or after)."""
        budget = self.cfg.budget_minutes
        over_time = budget is not None and self.elapsed + 0.5 * self.step_seconds >= 60.0 * budget
        return over_time or (not self.cfg.time_planned and self.iteration >= self.cfg.schedule.iters)

    # ---- checkpoints
    def state(self) -> dict:
        """Checkpoint after the last finished iteration (RNG as it was when that iteration ended, so
        an interruption mid-step loses the step but not the equality with an uninterrupted fit)."""
        return {
            "iteration": self.iteration,
            "elapsed": self.elapsed,
            "field": self.field.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": distributed.gather_rng(self.rng_at_iteration),
            "occ_grid": self.occ_grid.state_dict(),
            "config": json.dumps(self.cfg.to_json()),
            **({} if self.background is None else {"background": self.background.state_dict()}),
            **({} if self.derived is None else {"derived_masks": self.derived.state()}),
        }

    def restore(self, state: dict) -> None:
        self.field.load_state_dict(state["field"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.occ_grid.load_state_dict(state["occ_grid"])
        if self.background is not None:
            self.background.load_state_dict(state["background"])
        if "derived_masks" in state:
            apply(self, DerivedMasks.from_state(state["derived_masks"]))
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["elapsed"])
        self.rng_at_iteration = distributed.own_rng(state["rng"], self.run_dir)
        restore_rng(self.rng_at_iteration, self.generator)

    def save(self) -> None:
        """Write the checkpoint now (atomic; DvrError when it cannot be written), then tell the hooks."""
        distributed.rank0_only(save_checkpoint, self.run_dir / CHECKPOINT, self.state())  # state(): every rank
        for hook in self.hooks:
            hook.on_checkpoint(self)

    # ---- one iteration
    def step(self) -> StepRecord:
        """Run one iteration at the current fraction of the plan; returns its record."""
        cfg, fraction = self.cfg, self.fraction
        if self.iteration > 0 and self.iteration % cfg.occ_grid.update_every == 0:
            self.occ_grid.update(self.field.occupancy_logits, cfg.rendering.tau)
        self.field.set_active_levels(active_levels(fraction, self.field.n_levels))
        lr = cfg.optimizer.learning_rate(fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        n_samples = cfg.schedule.n_samples(fraction)
        batch = self.sampler.sample()
        background = None
        if self.background is not None:
            background = ray_background(
                self.background,
                batch.origins,
                batch.dirs,
                batch.view_index,
                cfg.rendering.background_samples,
                self.generator,
            )
        out = batch_outputs(self.field, batch, cfg, n_samples, self.occ_grid, self.generator, fraction, background)
        region = None if self.derived is None or self.derived.region is None else self.derived.contains
        terms = step_losses(batch, out, cfg, region)
        loss = total_loss(terms, cfg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(
            [p for group in self.optimizer.param_groups for p in group["params"]],
            self.sampler.rays_per_step / cfg.sampler.rays_per_step,
        )
        self.optimizer.step()
        self.iteration += 1
        self.rng_at_iteration = capture_rng(self.generator)
        self.record = StepRecord(
            {name: float(value.detach()) for name, value in terms.items()},
            float(loss.detach()),
            float(out["hit"].float().mean()),
            int(out["n_evaluated"]),
            n_samples,
            lr,
            fraction,
        )
        return self.record


def _sparse_points(scene: Scene, path: Path) -> SparsePoints:
    """The points triangulated from ``scene``'s photos: read from ``path`` if there (a resume),
    else triangulated and written there."""
    if path.is_file():
        return SparsePoints.load(path)
    sparse = triangulate([to_uint8(v.image) for v in scene.views], [v.camera for v in scene.views])
    if distributed.is_writer():
        sparse.save(path)
    return sparse


def _prepare_folder(run_dir: Path, cfg: FitConfig, resume: bool) -> dict | None:
    """Validate the run folder before anything is written; the checkpoint to resume from, if any."""
    checkpoint = run_dir / CHECKPOINT
    if resume:
        return load_checkpoint(checkpoint, cfg)
    if checkpoint.exists():
        raise DvrError("already holds a fit: pass --resume to continue it or choose another --out", run_dir)
    remove_written(run_dir / SPARSE)  # left by a fit that never saved: its views may differ
    return None


def fit(
    scene: Scene | None = None,
    cfg: FitConfig | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    hooks: Sequence[LoopHook | Callable[[FitJob], bool]] = (),
    log: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit occupancy + texture fields to ``scene``'s views, writing the run folder ``run_dir``.

    Plans over ``cfg.schedule.iters`` iterations, or over the time budget (``cfg.budget_minutes``)
    when that is None; stops at the end of the plan, when a hook asks, or on Ctrl-C, and always
    leaves ``checkpoints/latest.pt`` (also written every ``cfg.checkpoint_every_s``). With
    ``resume`` it continues that checkpoint of ``run_dir`` (default runs/latest), with the run's
    saved config and recorded scene unless given (as `dvr fit --resume`): an iteration-planned fit
    then equals an uninterrupted one (bit-for-bit on CPU); a time-planned one continues its schedule
    from the time already used. The run folder is locked while the fit writes it (a second fit gets
    a DvrError).
    Raises DvrError for missing / empty / full masks, cameras that do not see the unit cube, a
    resume whose config or checkpoint does not match (the folder is then left untouched), or a
    checkpoint that cannot be written (the previous one is kept).
    ``hooks``: :class:`~dvr_cli.fit.hooks.LoopHook` s, or callables ``f(job) -> bool`` run after
    every step (True stops the fit), called after the run folder's own; their time is counted
    neither in the plan nor in ``seconds``. ``log``: one line for the user (a lock taken over
    from a dead process, a warning while reloading the scene).
    """
    if resume:
        run_dir = resolve_run_dir(run_dir)
        if not (run_dir / CHECKPOINT).is_file():
            raise DvrError(f"nothing to resume: no {CHECKPOINT}", run_dir)
        adopt_old_run(run_dir)
        cfg = resumed_config(run_dir) if cfg is None else cfg
        scene = recorded_scene(run_dir, warn=log) if scene is None else scene
    elif scene is None or cfg is None or run_dir is None:
        raise DvrError("a new fit needs a scene, a config and a run folder")
    run_dir = Path(run_dir)
    distributed.init_from_env(cfg.device)  # under torchrun: join the other ranks
    writer = distributed.is_writer()  # rank 0 alone writes the folder
    check_masks(scene)
    train, holdout = holdout_split(len(scene), cfg.holdout)
    if not train:
        raise DvrError(f"--holdout {cfg.holdout} leaves no view to fit ({len(scene)} views)")
    if not resume and writer:
        claim_folder(run_dir, "run", scene_inputs(scene))  # new, empty or dvr's own: never a user's folder
    elif not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir) if writer else nullcontext() as lock:
        if lock is not None and lock.stale_pid is not None and log is not None:
            log(f"took over the lock of process {lock.stale_pid}, which no longer runs")
        state = _prepare_folder(run_dir, cfg, resume)
        cfg.field.prepare()  # a kernel's compile is not the fit's work: outside the budget
        setup_start = time.monotonic()
        job = FitJob(scene, cfg, run_dir, train)
        if state is not None:
            job.restore(state)
            if writer:
                truncate_metrics(run_dir, job.iteration)
        elif writer:
            cfg.save(run_dir / CONFIG)
            SceneRecord.from_scene(scene, train, holdout).save(run_dir / SCENE)
            remove_written(run_dir / METRICS)
        if writer:
            update_latest_link(run_dir)
        job.elapsed += time.monotonic() - setup_start  # the set-up (visual hull, field) is part of the budget
        return _loop(job, [h if isinstance(h, LoopHook) else StepCallback(h) for h in hooks], log)


def _loop(job: FitJob, watchers: list[LoopHook], log: Callable[[str], None] | None = None) -> FitResult:
    """Steps until the plan is done, a hook stops it or Ctrl-C; the run folder's hooks (the object
    phase of a fit without masks, checkpoints, metrics, previews) are timed as the fit, the
    caller's ``watchers`` are not."""
    bookkeeping = [*([ObjectPhase(log)] if job.object_phase else []), Checkpoints(), Metrics(), Previews()]
    job.hooks = [*bookkeeping, *watchers]
    seconds = 0.0  # of this call, the watchers excluded
    interrupted = False
    job.elapsed, job.step_seconds = distributed.from_rank0(job.elapsed, job.step_seconds)  # rank 0's clock
    with _sigint_as_flag() as flag:
        for hook in job.hooks:
            hook.on_start(job)
        try:
            while not job.done and not flag["stop"]:
                tick = time.monotonic()
                job.step()
                spent = time.monotonic() - tick
                job.elapsed, seconds = job.elapsed + spent, seconds + spent  # the hooks see the step's end
                bookkeeping_start = time.monotonic()
                for hook in bookkeeping:
                    hook.after_step(job)
                spent = time.monotonic() - bookkeeping_start  # bookkeeping is part of the fit's time
                job.elapsed, seconds = job.elapsed + spent, seconds + spent
                step_time = time.monotonic() - tick
                job.step_seconds = step_time if job.step_seconds == 0 else 0.9 * job.step_seconds + 0.1 * step_time
                # one schedule and one end for every rank: rank 0's clock and Ctrl-C
                job.elapsed, job.step_seconds, flag["stop"] = distributed.from_rank0(
                    job.elapsed, job.step_seconds, flag["stop"]
                )
                watch_start = time.monotonic()
                stop = [hook.after_step(job) for hook in watchers]
                job.paused += time.monotonic() - watch_start  # the watchers' time is not the fit's
                if any(stop):
                    break
        except KeyboardInterrupt:
            interrupted = True  # a second Ctrl-C mid-step: the checkpoint keeps the last finished iteration
        interrupted = interrupted or flag["stop"]
        job.save()
        for hook in job.hooks:
            hook.on_stop(job, interrupted)
    return FitResult(job.run_dir, job.iteration, seconds, job.record, interrupted, job.compiled)
