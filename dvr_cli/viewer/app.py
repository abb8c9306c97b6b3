"""The 3D web viewer (viser): cameras, region of interest, sparse points, surface and live renders
of a scene, a fitted run or a fit in progress.

Everything is shown in dvr's unit frame (the region of interest is the cube [-1, 1]^3). What is
shown is a :class:`~dvr_cli.viewer.content.Content`; rendering is the model's ``render_camera`` through
:mod:`dvr_cli.viewer.live`, run only by :meth:`Viewer.serve` (a finished run) or inside the fit's
loop hook (:class:`dvr_cli.viewer.watch.FitWatch`), between optimisation steps.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import queue
import socket
import threading
from typing import Callable

import numpy as np
import trimesh

from ..extras import require
from ..files import to_uint8
from ..scene.camera_paths import average_up
from .cameras import Pose, pose_of
from .content import Content, mask_overlay, thumbnail
from .live import FULL, LiveRender, RenderSettings, display_image
from .ports import check_port, port_error

#: Long side of the photos drawn on the frustums, and of the "photo | render" panel, pixels.
FRUSTUM_PHOTO = 128
COMPARE_SIZE = 160
TRAIN_COLOR = (60, 100, 200)
HELDOUT_COLOR = (240, 110, 20)
ROI_COLOR = (150, 150, 150)
LIVE_MODES = ("off", "rgb", "depth", "normal")


# ---------------------------------------------------------------------------------- helpers
def overview_eye(cameras_unit: list, up: np.ndarray) -> np.ndarray:
    """(3,) where the first view of the page is taken from: between the first two cameras, a
    little higher, 1.6 times as far from the object, so that the cameras around are in sight."""
    centers = [c.center / np.linalg.norm(c.center) for c in cameras_unit[:2]]
    direction = np.sum(centers, axis=0) + 0.5 * up
    distance = float(np.median([np.linalg.norm(c.center) for c in cameras_unit]))
    return direction / np.linalg.norm(direction) * 1.6 * distance


def score_text(metrics: dict) -> str:
    parts = [
        f"masked PSNR {metrics['masked_psnr']:.1f} dB" if "masked_psnr" in metrics else None,
        f"IoU {metrics['iou']:.3f}" if "iou" in metrics else None,
        f"PSNR {metrics['psnr']:.1f} dB" if "masked_psnr" not in metrics and "psnr" in metrics else None,
    ]
    return ", ".join(p for p in parts if p)


# ----------------------------------------------------------------------------------- viewer
class Viewer:
    """A viser server on ``host``:``port`` showing :class:`Content`, with live renders of a field.

    Raises DvrError when the port is taken. ``url`` and ``ssh_hint`` say how to open it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        settings: RenderSettings | None = None,
        title: str = "dvr",
        live: str | None = "rgb",
    ):
        """``live``: what the live render shows first ('off', 'rgb', 'depth', 'normal'); None for a
        viewer without a field (a scene): no live render, no render next to a clicked photo."""
        viser = require("viser")
        check_port(host, port)
        with contextlib.redirect_stdout(io.StringIO()):  # viser's own address panel: the command prints ours
            self.server = viser.ViserServer(host=host, port=port, label=title, verbose=False)
        if self.server.get_port() != port:  # taken between the check and the start: viser moved on
            self.server.stop()
            raise port_error(host, port, "taken")
        self.host, self.port = host, port
        self.live = LiveRender(settings or RenderSettings())
        self.jobs: queue.SimpleQueue[Callable] = queue.SimpleQueue()
        self.content: Content | None = None
        self.frustums: list = []
        self.surface = self.surface_toggle = self.mask_toggle = None
        self.gui = self.server.gui
        self.live_mode = None
        if live is not None:
            self.live_mode = self.gui.add_dropdown("live render", LIVE_MODES, initial_value=live)
            self.live_mode.on_update(lambda _: self._live_mode_changed())
        self.server.on_client_connect(self._connected)
        self.server.on_client_disconnect(lambda client: self.live.forget(client.client_id))

    @property
    def rendering(self) -> bool:
        """Whether clients get live renders."""
        return self.live_mode is not None and self.live_mode.value != "off"

    # ---- addresses
    @property
    def url(self) -> str:
        shown = socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{shown}:{self.port}"

    @property
    def ssh_hint(self) -> str:
        """The tunnel that reaches a viewer on a remote machine from one's own."""
        return (
            f"ssh -L {self.port}:localhost:{self.port} {getpass.getuser()}@{socket.gethostname()}  "
            f"then open http://localhost:{self.port}"
        )

    def stop(self) -> None:
        self.server.stop()

    # ---- scene
    def show(self, content: Content) -> None:
        """Draw ``content``: frustums with photos, the unit cube, sparse points, the surface."""
        self.content = content
        scene, norm = self.server.scene, content.normalization
        cameras = [norm.camera_to_unit(v.camera) for v in content.views]
        up = average_up(cameras)
        scene.set_up_direction(tuple(up))
        distance = float(np.median([np.linalg.norm(c.center) for c in cameras]))
        self.server.initial_camera.position = tuple(overview_eye(cameras, up))
        self.server.initial_camera.look_at = (0.0, 0.0, 0.0)
        self.server.initial_camera.up = tuple(up)
        self.server.initial_camera.fov = pose_of(cameras[0]).fov
        scene.add_box("/roi", ROI_COLOR, dimensions=(2.0, 2.0, 2.0), wireframe=True)
        held = set(content.holdout)
        self.frustums = []
        for i, (view, camera) in enumerate(zip(content.views, cameras)):
            pose = pose_of(camera)
            handle = scene.add_camera_frustum(
                f"/cameras/{i:04d}",
                pose.fov,
                pose.aspect,
                scale=0.07 * distance,
                thickness=0.004 * distance,
                color=HELDOUT_COLOR if i in held else TRAIN_COLOR,
                image=thumbnail(view.image, FRUSTUM_PHOTO),
                wxyz=pose.wxyz,
                position=pose.position,
            )
            handle.on_click(lambda event, i=i: self._clicked(i, event.client))
            self.frustums.append(handle)
            if view.name in content.scores:
                scene.add_label(
                    f"/scores/{i:04d}", f"{view.name}: {score_text(content.scores[view.name])}", position=pose.position
                )
        if content.points is not None:
            scene.add_point_cloud(
                "/sparse",
                norm.to_unit(content.points).astype(np.float32),
                content.point_colors if content.point_colors is not None else (40, 40, 40),
                point_size=0.01,
            )
        self.show_surface(content.mesh)
        self._add_panels(content)

    def show_surface(self, mesh: trimesh.Trimesh | None) -> None:
        """Draw (or replace) the surface; hidden while a live render shows it."""
        if mesh is not None:
            self.surface = self.server.scene.add_mesh_trimesh("/surface", mesh, visible=not self.rendering)

    def _add_panels(self, content: Content) -> None:
        if any(v.mask is not None for v in content.views):
            self.mask_toggle = self.gui.add_checkbox("mask overlay", False)
            self.mask_toggle.on_update(lambda _: self._show_masks(self.mask_toggle.value))
        else:
            self.gui.add_markdown("*no masks: photos shown without overlay*")
        if content.mesh is not None or self.live_mode is not None:
            self.surface_toggle = self.gui.add_checkbox("surface", not self.rendering)
            self.surface_toggle.on_update(lambda _: self._set_surface_visible(self.surface_toggle.value))
        if content.scores:
            rows = "\n".join(f"| {name} | {score_text(m)} |" for name, m in content.scores.items())
            self.gui.add_markdown(f"**held-out views** (orange)\n\n| view | score |\n|---|---|\n{rows}")
        self.compare = self.gui.add_image(np.zeros((8, 16, 3), np.uint8), label="photo | render", visible=False)

    def _set_surface_visible(self, visible: bool) -> None:
        if self.surface is not None:
            self.surface.visible = visible

    def _show_masks(self, on: bool) -> None:
        for handle, view in zip(self.frustums, self.content.views):
            photo = mask_overlay(view.image, view.mask) if on and view.mask is not None else view.image
            handle.image = thumbnail(photo, FRUSTUM_PHOTO)

    # ---- clients and live renders
    def _connected(self, client) -> None:
        client.camera.on_update(lambda camera: self._moved(client))
        self._moved(client)

    def _moved(self, client) -> None:
        if not self.rendering:
            return
        camera = client.camera
        pose = Pose(np.asarray(camera.wxyz), np.asarray(camera.position), float(camera.fov), float(camera.aspect))
        self.live.request(client.client_id, pose, lambda out, cam: self._deliver(client, out, cam))

    def _deliver(self, client, out: dict, camera) -> None:
        if not self.rendering:
            return
        image, z = display_image(out, camera, self.live_mode.value)
        client.scene.set_background_image(to_uint8(image), format="jpeg", depth=z)

    def _live_mode_changed(self) -> None:
        off = not self.rendering
        self._set_surface_visible(off)
        if self.surface_toggle is not None:
            self.surface_toggle.value = off
        for client in self.server.get_clients().values():
            if off:
                self.live.forget(client.client_id)
                client.scene.set_background_image(None)
            else:
                self._moved(client)
        self.live.invalidate()

    def _clicked(self, index: int, client) -> None:
        """Fly the client's view to camera ``index`` and show its photo next to a render."""
        view = self.content.views[index]
        camera = self.content.normalization.camera_to_unit(view.camera)
        pose = pose_of(camera)
        with client.atomic():
            client.camera.position = pose.position
            client.camera.wxyz = pose.wxyz
            client.camera.fov = pose.fov
        photo = thumbnail(view.image, COMPARE_SIZE)
        self.compare.image, self.compare.visible = photo, True
        if self.live_mode is None:
            return

        def render_pair(model) -> None:
            small = camera.resized(photo.shape[1], photo.shape[0])
            rendered = self.live.settings.render_camera(model, small, FULL)
            self.compare.image = np.concatenate([photo, to_uint8(rendered["rgb"])], axis=1)

        self.jobs.put(render_pair)

    # ---- work
    def next_work(self) -> tuple[Callable, bool] | None:
        """(work(model), interactive) to do next: a queued job, then a live render."""
        try:
            return self.jobs.get_nowait(), True
        except queue.Empty:
            pass
        job = self.live.next_job()
        if job is None:
            return None
        return (lambda model: self.live.work(model, job)), job[2]

    def serve(self, model=None, until: threading.Event | None = None) -> None:
        """Do the viewer's work (live renders, clicked views) with a fixed model until ``until``
        is set or Ctrl-C. A viewer without live renders (a scene) has none: it just waits."""
        until = until or threading.Event()
        while not until.is_set():
            work = self.next_work()
            if work is None:
                until.wait(0.02)
            else:
                work[0](model)
