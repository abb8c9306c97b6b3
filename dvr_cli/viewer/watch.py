"""The loop hook of ``dvr fit --viewer``: the fit's surface, live renders, loss curve and held-out
score in a :class:`~dvr_cli.viewer.app.Viewer`, within a share of the fit's wall clock."""

from __future__ import annotations

import dataclasses
import math
import time

from ..evaluate.report import background_of, score_renders
from ..fit.hooks import LoopHook
from ..scene.types import View
from .app import HELDOUT_COLOR, TRAIN_COLOR, Viewer
from .chart import line_plot
from .content import field_surface, scene_content, small_view
from .live import PREVIEW, RenderSettings, Throttle

#: Share of the wall clock the viewer may take from a fit while someone moves the view, and
#: while it only follows the fit (surface, held-out score, renders of views at rest).
INTERACTIVE_SHARE = 0.5
IDLE_SHARE = 0.03
#: The plots and the views at rest follow the fit at most this often, seconds.
REFRESH_S = 2.0
#: Long side of the held-out views scored during the fit, pixels.
SCORE_SIZE = 64


class FitWatch(LoopHook):
    """The loop hook of ``dvr fit --viewer``: the fit's surface, live renders, loss curve and
    held-out score in a :class:`Viewer`, pause / resume and "save checkpoint now".

    ``on_start(job)`` shows the fit's scene (its held-out views as the fit splits them) and takes its
    render steps; ``after_step(job)`` runs after every step (the fit's loop passes its FitJob). It does nothing
    costly while no browser is connected; otherwise one piece of work per call at most, keeping
    the viewer within INTERACTIVE_SHARE of the wall clock while a client moves its view and
    IDLE_SHARE while it only follows the fit. The field is only read (no_grad renders), so the
    fit's result does not change. While paused it blocks, still serving the viewer.
    """

    def __init__(self, viewer: Viewer):
        self.viewer = viewer
        gui = viewer.gui
        self.status = gui.add_markdown("waiting for the first step")
        self.pause_button = gui.add_button("pause")
        self.pause_button.on_click(lambda _: self._toggle_pause())
        self.save_button = gui.add_button("save checkpoint now")
        self.save_button.on_click(lambda _: setattr(self, "save_requested", True))
        self.loss_plot = self._plot("loss")
        self.score_views: list[View] = []
        self.score_plot = None
        self.paused = self.save_requested = False
        self.losses: tuple[list, list] = ([], [])
        self.scores: tuple[list, list] = ([], [])
        self.throttle = Throttle()
        self.last_refresh = 0.0
        self.surface_due = True

    def on_start(self, job) -> None:
        """Show the fit's scene and held-out views; render with its steps (the viewer's sizes kept)."""
        scene = job.scene
        content = scene_content(scene)
        content.holdout = [i for i in range(len(scene)) if i not in job.train]
        self.viewer.show(content)
        live = self.viewer.live
        steps = RenderSettings.of_config(job.cfg)
        live.settings = dataclasses.replace(
            live.settings, full_samples=steps.full_samples, preview_samples=steps.preview_samples
        )
        self.score_views = [small_view(scene.views[i], scene.normalization, SCORE_SIZE) for i in content.holdout]
        if self.score_views and self.score_plot is None:
            self.score_plot = self._plot("held-out masked PSNR (dB)")

    def _plot(self, title: str):
        return self.viewer.gui.add_image(line_plot([], [], title), label=None, format="png")

    def _toggle_pause(self) -> None:
        self.paused = not self.paused
        self.pause_button.label = "resume" if self.paused else "pause"

    def after_step(self, job) -> bool:
        """After every step: record the step, do the viewer's due work; never stops the fit."""
        self.losses[0].append(job.iteration)
        self.losses[1].append(job.record.total)
        self._save_if_asked(job)
        watched = bool(self.viewer.server.get_clients())
        if watched and time.monotonic() - self.last_refresh >= REFRESH_S:
            self.last_refresh = time.monotonic()
            self.viewer.live.field_changed()
            self.surface_due = True
            self._show_progress(job)
        if watched and self.throttle.ready():
            self._work(job, throttled=True)
        while self.paused:
            self._save_if_asked(job)
            if not self._work(job, throttled=False):
                time.sleep(0.05)
        return False

    def _save_if_asked(self, job) -> None:
        if self.save_requested:
            self.save_requested = False
            job.save()
            self.status.content = f"checkpoint saved at iteration {job.iteration}"

    def _work(self, job, throttled: bool) -> bool:
        """One piece of the viewer's work; False when there was none."""
        start = time.monotonic()
        work = self.viewer.next_work()
        if self.surface_due and (work is None or not work[1]):  # the surface takes turns with renders at rest
            self.surface_due = False
            self.viewer.show_surface(field_surface(job.model.field, job.model.occ_grid, job.cfg.rendering.tau))
            self._score(job)
            interactive = False
        elif work is not None:
            work[0](job.model)
            interactive = work[1]
        else:
            return False
        if throttled:
            self.throttle.spent(time.monotonic() - start, INTERACTIVE_SHARE if interactive else IDLE_SHARE)
        return True

    def _score(self, job) -> None:
        """Mean masked PSNR of the held-out views (evaluate's scorer), rendered small with the
        preview's marching samples."""
        if not self.score_views:
            return
        settings = self.viewer.live.settings

        def render(view: View) -> dict:
            return settings.render_camera(job.model, view.camera, PREVIEW, background=background_of(view))

        value = score_renders(render, self.score_views)["mean"].get("masked_psnr", math.nan)
        if math.isfinite(value):
            self.scores[0].append(job.iteration)
            self.scores[1].append(float(value))
            self.score_plot.image = line_plot(*self.scores, "held-out masked PSNR (dB)", HELDOUT_COLOR)

    def _show_progress(self, job) -> None:
        record = job.record
        score = f" · held-out masked PSNR {self.scores[1][-1]:.2f} dB" if self.scores[1] else ""
        self.status.content = (
            f"iteration **{job.iteration}** · loss {record.total:.4f} · "
            f"rays hitting {record.hit_rate:.2f}{score}" + (" · **paused**" if self.paused else "")
        )
        self.loss_plot.image = line_plot(*self.losses, "loss", TRAIN_COLOR)


def watch_fit(host: str = "127.0.0.1", port: int = 8080, title: str = "dvr fit") -> FitWatch:
    """Start a viewer for a fit (DvrError when the port is taken); pass the result as one of the
    fit's ``hooks`` (it shows the fit's scene when the fit starts) and stop ``.viewer`` after the fit."""
    return FitWatch(Viewer(host, port, title=title, live="rgb"))
