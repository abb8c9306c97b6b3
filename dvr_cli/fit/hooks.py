"""What the fitting loop calls at its named points: ``on_start``, ``before_step``, ``after_step`` (True
stops the fit), ``on_checkpoint`` (after every checkpoint written) and ``on_stop``.

The model's schedule (the occupancy grid's refresh, the coarse-to-fine levels: ``DVRModel.schedule_hooks``)
runs as :class:`BeforeStep` hooks, and the run folder's bookkeeping as hooks too (:class:`Checkpoints`,
:class:`Metrics`, :class:`Previews`): their time is the fit's. A caller adds its own (the command
line's progress display, the viewer, a benchmark's scorer: their time is not the fit's)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from PIL import Image

from ..files import save_png, to_uint8
from ..run import PREVIEWS
from ..run.folder import append_metrics
from . import distributed

if TYPE_CHECKING:  # the loop's job; no import at run time (trainer.py imports this module)
    from .trainer import FitJob

LOG_EVERY = 25  # iterations between metrics.jsonl records
PREVIEW_SIZE = 256  # long side of preview renders, pixels


class LoopHook:
    """A part of the loop's work at its named points; each method does nothing unless overridden."""

    def on_start(self, job: FitJob) -> None:
        """Before the first step of this call (after a resume's restore)."""

    def before_step(self, job: FitJob) -> None:
        """Before every step, as its first part (timed as the step)."""

    def after_step(self, job: FitJob) -> bool | None:
        """After every step (``job.record`` is the step's); True stops the fit."""

    def on_checkpoint(self, job: FitJob) -> None:
        """After a checkpoint of ``job`` was written."""

    def on_stop(self, job: FitJob, interrupted: bool) -> None:
        """After the last checkpoint: the plan is done, a hook stopped the fit or it was interrupted."""


class StepCallback(LoopHook):
    """A plain ``callback(job) -> bool`` as an after-step hook."""

    def __init__(self, callback: Callable[[FitJob], bool]):
        self.callback = callback

    def after_step(self, job: FitJob) -> bool:
        return self.callback(job)


class BeforeStep(LoopHook):
    """A ``change(iteration, fraction)`` of the model's schedule, made before every step."""

    def __init__(self, change: Callable[[int, float], None]):
        self.change = change

    def before_step(self, job: FitJob) -> None:
        self.change(job.iteration, job.fraction)


class Checkpoints(LoopHook):
    """A checkpoint every ``cfg.checkpoint_every_s`` of fitting; every rank saves (the checkpoint
    gathers their ray streams) when rank 0's clock says so."""

    def on_start(self, job: FitJob) -> None:
        self.last = job.clock()

    def after_step(self, job: FitJob) -> None:
        if distributed.from_rank0(job.clock() - self.last >= job.cfg.checkpoint_every_s)[0]:
            job.save()
            self.last = job.clock()


class Metrics(LoopHook):
    """metrics.jsonl: the step's record every LOG_EVERY iterations and at the end (rank 0)."""

    def on_start(self, job: FitJob) -> None:
        self.since = (job.clock(), job.iteration)

    def after_step(self, job: FitJob) -> None:
        if distributed.is_writer() and (job.iteration % LOG_EVERY == 0 or job.done):
            append_metrics(
                job.run_dir,
                {
                    "iter": job.iteration,
                    "time": round(job.elapsed, 3),
                    **job.record.to_json(),
                    "rays_per_s": round(job.rays_per_s(*self.since), 1),
                    "compiled": job.compiled,
                },
            )
            self.since = (job.clock(), job.iteration)


class Previews(LoopHook):
    """A preview render every ``cfg.preview_every_s`` and at the end of a finished fit (rank 0)."""

    def on_start(self, job: FitJob) -> None:
        self.last = job.clock()

    def after_step(self, job: FitJob) -> None:
        if distributed.is_writer() and job.clock() - self.last >= job.cfg.preview_every_s:
            save_preview(job)
            self.last = job.clock()

    def on_stop(self, job: FitJob, interrupted: bool) -> None:
        if distributed.is_writer() and not interrupted and job.record is not None:
            save_preview(job)


def save_preview(job: FitJob) -> Path:
    """Render the first training view at <= PREVIEW_SIZE px next to its photo: previews/iter_XXXXXX.png."""
    view = job.scene.views[job.train[0]]
    camera = job.scene.normalization.camera_to_unit(view.camera)
    factor = min(1.0, PREVIEW_SIZE / max(camera.width, camera.height))
    w, h = max(1, round(camera.width * factor)), max(1, round(camera.height * factor))
    field = job.model.field
    was_training = field.training
    field.eval()
    rendered = job.model.render_camera(camera.resized(w, h), job.record.n_samples)
    field.train(was_training)
    photo = Image.fromarray(to_uint8(view.image)).resize((w, h), Image.BILINEAR)
    pair = np.concatenate([to_uint8(rendered["rgb"]), np.asarray(photo)], axis=1)
    return save_png(Path(job.run_dir) / PREVIEWS / f"iter_{job.iteration:06d}.png", pair)
