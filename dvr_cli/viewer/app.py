"""The 3D web viewer (viser): cameras, region of interest, sparse points, surface and live renders
of a scene, a fitted run or a fit in progress.

Everything is shown in dvr's unit frame (the region of interest is the cube [-1, 1]^3). What is
shown comes from the library's objects (``Scene``, ``LoadedRun``, the fit's field); rendering is
``render_image`` through :mod:`dvr_cli.viewer.live`, run only by :meth:`Viewer.serve` (a finished
run) or inside the fit's step hook (:class:`FitWatch`), between optimisation steps.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import queue
import socket
import threading
import time
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Callable

import numpy as np
import trimesh
from PIL import Image

from ..errors import DvrError
from ..evaluate.images import masked_psnr
from ..evaluate.report import background_of
from ..files import read_json, to_uint8
from ..mesh.color import field_colors, field_device
from ..mesh.mise import extract_surface
from ..render.views import average_up
from ..run import EVAL, EXPORT, Run
from ..scene.types import Normalization, Scene, View
from .cameras import Pose, pose_of
from .live import FULL, PREVIEW, LiveRender, RenderSettings, Throttle, display_image

#: Long side of the photos drawn on the frustums, and of the "photo | render" panel, pixels.
FRUSTUM_PHOTO = 128
COMPARE_SIZE = 160
TRAIN_COLOR = (60, 100, 200)
HELDOUT_COLOR = (240, 110, 20)
ROI_COLOR = (150, 150, 150)
#: Cells per axis of the surface extracted for display (a run without an exported mesh, a fit).
SURFACE_RESOLUTION = 64
LIVE_MODES = ("off", "rgb", "depth", "normal")
EXPORTED_MESHES = ("mesh.ply", "mesh.glb", "mesh.obj")


# --------------------------------------------------------------------------- what is shown
@dataclass
class Content:
    """What the viewer shows, in world units as loaded (converted to the unit frame when drawn).

    views: every view (camera, photo, mask or None); holdout: indices of held-out views;
    scores: view name -> its metrics (eval.json's per-view record); points (P, 3) / point_colors
    (P, 3) uint8: sparse SfM points; mesh: a surface already in the unit frame.
    """

    views: list[View]
    normalization: Normalization
    holdout: list[int] = dataclass_field(default_factory=list)
    scores: dict[str, dict] = dataclass_field(default_factory=dict)
    points: np.ndarray | None = None
    point_colors: np.ndarray | None = None
    mesh: trimesh.Trimesh | None = None


def sparse_points(scene: Scene) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The SfM points `dvr calibrate` wrote beside the scene's cams.json (sparse.ply), if any."""
    from ..calib.pipeline import SPARSE_FILE

    path = Path(scene.source).parent / SPARSE_FILE if scene.source is not None else None
    if path is None or not path.is_file():
        return None, None
    cloud = _load_trimesh(path)
    colors = getattr(cloud, "colors", None)
    return np.asarray(cloud.vertices), None if colors is None or len(colors) == 0 else np.asarray(colors)[:, :3]


def _load_trimesh(path: Path, **kwargs):
    """``trimesh.load``, with a DvrError naming the file when it is broken (truncated, not a mesh)."""
    try:
        loaded = trimesh.load(path, **kwargs)
    except Exception as exc:  # noqa: BLE001 - trimesh raises many types for a broken file
        raise DvrError(f"cannot read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                       "delete it or write it again", path) from None
    if not hasattr(loaded, "vertices") or len(loaded.vertices) == 0:
        raise DvrError("holds no points or vertices; delete it or write it again", path)
    return loaded


def scene_content(scene: Scene) -> Content:
    """A scene's views and, for a photos-only calibration, its sparse points."""
    points, colors = sparse_points(scene)
    return Content(scene.views, scene.normalization, points=points, point_colors=colors)


def field_surface(field, occ_grid, tau: float, resolution: int = SURFACE_RESOLUTION) -> trimesh.Trimesh | None:
    """The field's surface (unit frame, inside the occupancy grid) with vertex colours; None if empty."""
    logit_fn = field.occupancy_logits if occ_grid is None else occ_grid.masked(field.occupancy_logits)
    verts, faces, _ = extract_surface(logit_fn, resolution=resolution, start=min(32, resolution), tau=tau,
                                      device=field_device(field))
    if len(faces) == 0:
        return None
    return trimesh.Trimesh(verts, faces, vertex_colors=to_uint8(field_colors(field, verts)), process=False)


def run_surface(run: Run) -> trimesh.Trimesh | None:
    """RUN/export/mesh.{ply,glb,obj} (the first present) moved into the unit frame, else a
    low-resolution surface of the field."""
    for name in EXPORTED_MESHES:
        path = run.run_dir / EXPORT / name
        if path.is_file():
            mesh = _load_trimesh(path, force="mesh")
            mesh.apply_translation(-run.normalization.center)
            mesh.apply_scale(1.0 / run.normalization.scale)
            return mesh
    return field_surface(run.field, run.occ_grid, run.cfg.tau)


def run_content(run: Run) -> Content:
    """A fitted run: its scene's views, held-out views with eval.json's scores (when `dvr eval`
    or `dvr fit --holdout` wrote them), its surface."""
    scene = run.scene()
    scores = {}
    if (run.run_dir / EVAL).is_file():
        images = read_json(run.run_dir / EVAL).get("images") or {}
        scores = {v["name"]: v for v in images.get("views", []) if "name" in v}
    points, colors = sparse_points(scene)
    return Content(scene.views, run.normalization, list(run.holdout), scores, points, colors, run_surface(run))


# ---------------------------------------------------------------------------------- helpers
def port_error(host: str, port: int, reason: str) -> DvrError:
    return DvrError(f"--port {port}: cannot listen on {host}:{port} ({reason}); choose another --port")


def check_port(host: str, port: int) -> None:
    """DvrError in one line unless ``host``:``port`` can be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise port_error(host, port, exc.strerror or str(exc)) from None


def thumbnail(image: np.ndarray, long_side: int) -> np.ndarray:
    """(H, W, 3) float [0, 1] -> uint8 with its longer side at most ``long_side`` pixels."""
    pil = Image.fromarray(to_uint8(image))
    pil.thumbnail((long_side, long_side), Image.BILINEAR)
    return np.asarray(pil)


def mask_overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) photo with the object mask shown: background darkened, object tinted green."""
    tint = np.where(mask[..., None], 0.6 * image + 0.4 * np.array([0.1, 0.9, 0.2]), 0.35 * image)
    return tint.astype(np.float32)


def overview_eye(cameras_unit: list, up: np.ndarray) -> np.ndarray:
    """(3,) where the first view of the page is taken from: between the first two cameras, a
    little higher, 1.6 times as far from the object, so that the cameras around are in sight."""
    centers = [c.center / np.linalg.norm(c.center) for c in cameras_unit[:2]]
    direction = np.sum(centers, axis=0) + 0.5 * up
    distance = float(np.median([np.linalg.norm(c.center) for c in cameras_unit]))
    return direction / np.linalg.norm(direction) * 1.6 * distance


def score_text(metrics: dict) -> str:
    parts = [f"masked PSNR {metrics['masked_psnr']:.1f} dB" if "masked_psnr" in metrics else None,
             f"IoU {metrics['iou']:.3f}" if "iou" in metrics else None,
             f"PSNR {metrics['psnr']:.1f} dB" if "masked_psnr" not in metrics and "psnr" in metrics else None]
    return ", ".join(p for p in parts if p)


# ----------------------------------------------------------------------------------- viewer
class Viewer:
    """A viser server on ``host``:``port`` showing :class:`Content`, with live renders of a field.

    Raises DvrError when the port is taken. ``url`` and ``ssh_hint`` say how to open it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, settings: RenderSettings | None = None,
                 title: str = "dvr", live: str | None = "rgb"):
        """``live``: what the live render shows first ('off', 'rgb', 'depth', 'normal'); None for a
        viewer without a field (a scene): no live render, no render next to a clicked photo."""
        import viser

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
        return (f"ssh -L {self.port}:localhost:{self.port} {getpass.getuser()}@{socket.gethostname()}  "
                f"then open http://localhost:{self.port}")

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
                f"/cameras/{i:04d}", pose.fov, pose.aspect, scale=0.07 * distance, thickness=0.004 * distance,
                color=HELDOUT_COLOR if i in held else TRAIN_COLOR, image=thumbnail(view.image, FRUSTUM_PHOTO),
                wxyz=pose.wxyz, position=pose.position)
            handle.on_click(lambda event, i=i: self._clicked(i, event.client))
            self.frustums.append(handle)
            if view.name in content.scores:
                scene.add_label(f"/scores/{i:04d}", f"{view.name}: {score_text(content.scores[view.name])}",
                                position=pose.position)
        if content.points is not None:
            scene.add_point_cloud("/sparse", norm.to_unit(content.points).astype(np.float32),
                                  content.point_colors if content.point_colors is not None else (40, 40, 40),
                                  point_size=0.01)
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

        def render_pair(field, occ_grid) -> None:
            small = camera.resized(photo.shape[1], photo.shape[0])
            rendered = self.live.settings.render_camera(field, occ_grid, small, FULL)
            self.compare.image = np.concatenate([photo, to_uint8(rendered["rgb"])], axis=1)

        self.jobs.put(render_pair)

    # ---- work
    def next_work(self) -> tuple[Callable, bool] | None:
        """(work(field, occ_grid), interactive) to do next: a queued job, then a live render."""
        try:
            return self.jobs.get_nowait(), True
        except queue.Empty:
            pass
        job = self.live.next_job()
        if job is None:
            return None
        return (lambda field, occ_grid: self.live.work(field, occ_grid, job)), job[2]

    def serve(self, field=None, occ_grid=None, until: threading.Event | None = None) -> None:
        """Do the viewer's work (live renders, clicked views) with a fixed field until ``until``
        is set or Ctrl-C. A viewer without live renders (a scene) has none: it just waits."""
        until = until or threading.Event()
        while not until.is_set():
            work = self.next_work()
            if work is None:
                until.wait(0.02)
            else:
                work[0](field, occ_grid)


# ------------------------------------------------------------------------------ a live fit
#: Share of the wall clock the viewer may take from a fit while someone moves the view, and
#: while it only follows the fit (surface, held-out score, renders of views at rest).
INTERACTIVE_SHARE = 0.5
IDLE_SHARE = 0.03
#: The plots and the views at rest follow the fit at most this often, seconds.
REFRESH_S = 2.0
#: Long side of the held-out views scored during the fit, pixels.
SCORE_SIZE = 64


def line_plot(x: list, y: list, title: str, color=(0, 0, 0), size: tuple[int, int] = (320, 160)) -> np.ndarray:
    """(H, W, 3) uint8 image of the curve y(x) with its title and value ranges, for the GUI panel
    (drawn here: viser 1.1.1's uPlot charts stay empty when updated below other controls)."""
    import cv2

    w, h = size
    left, right, top, bottom = 44, 8, 22, 20
    image = np.full((h, w, 3), 255, np.uint8)
    text = dict(fontFace=cv2.FONT_HERSHEY_SIMPLEX, fontScale=0.38, color=(60, 60, 60), thickness=1,
                lineType=cv2.LINE_AA)
    cv2.putText(image, title, (left, 14), **text)
    cv2.rectangle(image, (left, top), (w - right, h - bottom), (200, 200, 200), 1)
    if len(x) >= 2:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        span_x, span_y = max(x.max() - x.min(), 1e-12), max(y.max() - y.min(), 1e-12)
        px = left + (x - x.min()) / span_x * (w - right - left)
        py = h - bottom - (y - y.min()) / span_y * (h - bottom - top)
        cv2.polylines(image, [np.stack([px, py], axis=1).round().astype(np.int32)], False, tuple(color), 2,
                      cv2.LINE_AA)
        cv2.putText(image, f"{y.max():.3g}", (2, top + 8), **text)
        cv2.putText(image, f"{y.min():.3g}", (2, h - bottom), **text)
        cv2.putText(image, f"{x.min():.0f}", (left, h - 5), **text)
        cv2.putText(image, f"it {x.max():.0f}", (w - right - 50, h - 5), **text)
    return image


def small_view(view: View, normalization: Normalization, long_side: int) -> View:
    """The view shrunk to ``long_side`` pixels, its camera in the unit frame (for quick scores)."""
    image = thumbnail(view.image, long_side)
    h, w = image.shape[:2]
    mask = None
    if view.mask is not None:
        mask = np.asarray(Image.fromarray(view.mask.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)) > 127
    camera = normalization.camera_to_unit(view.camera).resized(w, h)
    return View(camera, image.astype(np.float32) / 255.0, mask, image_path=view.image_path)


class FitWatch:
    """The step hook of ``dvr fit --viewer``: the fit's surface, live renders, loss curve and
    held-out score in a :class:`Viewer`, pause / resume and "save checkpoint now".

    ``watch(job)`` runs after every step (the fit's loop passes its FitJob). It does nothing
    costly while no browser is connected; otherwise one piece of work per call at most, keeping
    the viewer within INTERACTIVE_SHARE of the wall clock while a client moves its view and
    IDLE_SHARE while it only follows the fit. The field is only read (no_grad renders), so the
    fit's result does not change. While paused it blocks, still serving the viewer.
    """

    def __init__(self, viewer: Viewer, scene: Scene, holdout: list[int]):
        self.viewer = viewer
        content = scene_content(scene)
        content.holdout = list(holdout)
        viewer.show(content)
        gui = viewer.gui
        self.status = gui.add_markdown("waiting for the first step")
        self.pause_button = gui.add_button("pause")
        self.pause_button.on_click(lambda _: self._toggle_pause())
        self.save_button = gui.add_button("save checkpoint now")
        self.save_button.on_click(lambda _: setattr(self, "save_requested", True))
        self.loss_plot = self._plot("loss")
        self.score_views = [small_view(scene.views[i], scene.normalization, SCORE_SIZE) for i in holdout]
        self.score_plot = self._plot("held-out masked PSNR (dB)") if self.score_views else None
        self.paused = self.save_requested = False
        self.losses: tuple[list, list] = ([], [])
        self.scores: tuple[list, list] = ([], [])
        self.throttle = Throttle()
        self.last_refresh = 0.0
        self.surface_due = True

    def _plot(self, title: str):
        return self.viewer.gui.add_image(line_plot([], [], title), label=None, format="png")

    def _toggle_pause(self) -> None:
        self.paused = not self.paused
        self.pause_button.label = "resume" if self.paused else "pause"

    def __call__(self, job) -> bool:
        """The fit's hook: record the step, do the viewer's due work; never stops the fit."""
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
            self.viewer.show_surface(field_surface(job.field, job.occ_grid, job.cfg.tau))
            self._score(job)
            interactive = False
        elif work is not None:
            work[0](job.field, job.occ_grid)
            interactive = work[1]
        else:
            return False
        if throttled:
            self.throttle.spent(time.monotonic() - start, INTERACTIVE_SHARE if interactive else IDLE_SHARE)
        return True

    def _score(self, job) -> None:
        """Mean masked PSNR of the held-out views, rendered small with the preview's marching steps."""
        if not self.score_views:
            return
        settings = self.viewer.live.settings
        values = []
        for view in self.score_views:
            out = settings.render_camera(job.field, job.occ_grid, view.camera, PREVIEW, background=background_of(view))
            if view.mask is not None:
                values.append(masked_psnr(out["rgb"], view.image, view.mask))
        finite = [v for v in values if np.isfinite(v)]
        if finite:
            self.scores[0].append(job.iteration)
            self.scores[1].append(float(np.mean(finite)))
            self.score_plot.image = line_plot(*self.scores, "held-out masked PSNR (dB)", HELDOUT_COLOR)

    def _show_progress(self, job) -> None:
        record = job.record
        score = f" · held-out masked PSNR {self.scores[1][-1]:.2f} dB" if self.scores[1] else ""
        self.status.content = (f"iteration **{job.iteration}** · loss {record.total:.4f} · "
                               f"rays hitting {record.hit_rate:.2f}{score}" + (" · **paused**" if self.paused else ""))
        self.loss_plot.image = line_plot(*self.losses, "loss", TRAIN_COLOR)


def watch_fit(scene: Scene, cfg, host: str = "127.0.0.1", port: int = 8080, title: str = "dvr fit") -> FitWatch:
    """Start a viewer for a fit of ``scene`` with ``cfg`` (its held-out views as the fit splits
    them); pass the result as the fit's ``hook`` and stop ``.viewer`` after the fit."""
    from ..run import holdout_split

    viewer = Viewer(host, port, RenderSettings.of_config(cfg), title=title, live="rgb")
    return FitWatch(viewer, scene, holdout_split(len(scene), cfg.holdout)[1])
