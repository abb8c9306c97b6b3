"""`dvr fit`'s progress bar: a loop hook of the fit (dvr_cli.fit.hooks) drawing with rich."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..fit.hooks import LOG_EVERY, LoopHook


class FitProgress(LoopHook):
    """What the fit runs (views, run folder, preset, plan; a note without masks) when it starts, then
    the share of the plan done, the iteration, the last step's loss terms, hit rate and rays per
    second (over the last LOG_EVERY iterations), and the last checkpoint. Drawn while ``bar`` is
    entered (``with progress.bar: fit(...)``)."""

    def __init__(self, console: Console):
        self.bar = Progress(
            TextColumn("[bold]fit"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}% it {task.fields[iteration]}"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.saved = ""

    def on_start(self, job) -> None:
        cfg, scene = job.cfg, job.scene
        plan = (
            f"{cfg.budget_minutes:g} minutes"
            if cfg.time_planned
            else f"{cfg.schedule.iters} iterations"
            + (f", at most {cfg.schedule.minutes:g} min" if cfg.schedule.minutes else "")
        )
        camera = scene.views[0].camera
        self.bar.console.print(
            f"fitting {len(scene)} views ({camera.width}x{camera.height}) "
            f"-> [bold]{escape(str(job.run_dir))}[/] (preset {cfg.preset}, {plan})"
        )
        if not scene.has_masks:
            self.bar.console.print(
                "[yellow]note:[/] no mask for every view: fitting from colour alone, over the whole "
                "bounding cube (see `dvr fit --help`)"
            )
        self.task = self.bar.add_task(
            "fit", total=100, completed=100 * job.fraction, status="", iteration=job.iteration
        )
        self.since = (job.clock(), job.iteration)

    def after_step(self, job) -> bool:
        record = job.record
        terms = " ".join(f"{k} {v:.4f}" for k, v in record.terms.items())
        status = (
            f"{terms} | total {record.total:.4f} | hit {record.hit_rate:.2f} | "
            f"{job.rays_per_s(*self.since):,.0f} rays/s{self.saved}"
        )
        self.bar.update(self.task, completed=100 * job.fraction, iteration=job.iteration, status=status)
        if job.iteration % LOG_EVERY == 0:
            self.since = (job.clock(), job.iteration)
        return False

    def on_checkpoint(self, job) -> None:
        self.saved = f" | saved it {job.iteration}"

    def on_stop(self, job, interrupted: bool) -> None:
        self.bar.update(self.task, completed=100 * job.fraction, iteration=job.iteration)
