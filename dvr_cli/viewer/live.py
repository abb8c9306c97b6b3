"""Live renders for the viewer: each client's latest viewpoint rendered by the model (``render_camera``),
small while the view moves and refined once it rests, within a share of the wall clock.

Nothing here knows the web server: a client is a key, a ``Pose`` (cameras.py) and a ``deliver``
callback that receives the render. Work happens only when the owner calls :meth:`LiveRender.work`
(the fit's step hook, or the viewer's worker thread), never inside a callback of the server, so
the model is only read between optimisation steps.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable

import numpy as np

from ..model import DVRModel
from ..scene.camera import Camera
from .cameras import Pose, camera_of

#: A view is "at rest" once no new pose came for this long: then it is rendered at full size.
REST_AFTER_S = 0.3
PREVIEW, FULL = "preview", "full"

Deliver = Callable[[dict, Camera], None]


@dataclass
class RenderSettings:
    """How live views are rendered: marching samples and long image side, small (moving) and full (at rest);
    the rest (threshold, secant steps, occupancy grid, background) is the model's."""

    full_samples: int = 256
    full_size: int = 256
    preview_samples: int = 64
    preview_size: int = 96

    @classmethod
    def of_config(cls, cfg, full_size: int = 256) -> "RenderSettings":
        """Settings for a run's FitConfig: its render samples."""
        steps = cfg.rendering.render_samples
        return cls(full_samples=steps, full_size=full_size, preview_samples=min(64, steps))

    def render_camera(self, model: DVRModel, camera: Camera, level: str, background=None) -> dict:
        """``model.render_camera`` of a unit-frame ``camera`` with the marching samples of ``level``."""
        return model.render_camera(camera, self.full_samples if level == FULL else self.preview_samples, background)

    def render(self, model: DVRModel, pose: Pose, level: str) -> tuple[dict, Camera]:
        """Render ``pose`` (unit frame) at ``level``'s size: render_camera's dict and the camera it used."""
        camera = camera_of(pose, self.full_size if level == FULL else self.preview_size)
        return self.render_camera(model, camera, level), camera


class Throttle:
    """Keeps work to at most ``share`` of the wall clock: after work that took d seconds, the next
    may start d (1 - share) / share seconds after it ended."""

    def __init__(self):
        self.next_start = 0.0

    def ready(self) -> bool:
        return time.monotonic() >= self.next_start

    def spent(self, seconds: float, share: float) -> None:
        self.next_start = time.monotonic() + seconds * (1.0 - share) / share


@dataclass
class _Client:
    pose: Pose
    deliver: Deliver
    version: int = 0
    requested_at: float = 0.0
    done_version: int = -1
    done_level: str | None = None
    done_field: int = -1


class LiveRender:
    """The latest requested view of every client and what has been rendered of it.

    ``request`` may be called from any thread; ``work`` renders one view per call: the one most
    in need, a new pose first (small; interactive), then a resting pose (full), then a view whose
    field has changed since its render (``field_changed``, when a fit has moved on).
    """

    def __init__(self, settings: RenderSettings):
        self.settings = settings
        self._clients: dict[Hashable, _Client] = {}
        self._field_version = 0
        self._lock = threading.Lock()

    def request(self, key: Hashable, pose: Pose, deliver: Deliver) -> None:
        """Client ``key`` now looks through ``pose``; renders of it go to ``deliver(out, camera)``."""
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = _Client(pose, deliver)
            client.pose, client.deliver = pose, deliver
            client.version += 1
            client.requested_at = time.monotonic()

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._clients.pop(key, None)

    def invalidate(self) -> None:
        """Render every view again from small (e.g. the displayed quantity changed)."""
        with self._lock:
            for client in self._clients.values():
                client.done_version = -1

    def field_changed(self) -> None:
        """The field moved on: views at rest are rendered again (as background work)."""
        with self._lock:
            self._field_version += 1

    def next_job(self) -> tuple[Hashable, str, bool] | None:
        """(key, level, interactive) of the view most in need of a render, or None."""
        now = time.monotonic()
        with self._lock:
            stale = None
            for key, c in self._clients.items():
                if c.done_version != c.version:
                    return key, PREVIEW, True
                if c.done_level == PREVIEW and now - c.requested_at >= REST_AFTER_S:
                    return key, FULL, False  # refined once at rest, then the viewer backs off
                if c.done_field != self._field_version and stale is None:
                    stale = key
            return None if stale is None else (stale, FULL, False)

    def work(self, model: DVRModel, job: tuple[Hashable, str, bool]) -> None:
        """Render ``job`` (from :meth:`next_job`) and deliver it, unless the client left meanwhile."""
        key, level, _ = job
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                return
            pose, version, field_version, deliver = client.pose, client.version, self._field_version, client.deliver
        out, camera = self.settings.render(model, pose, level)
        with self._lock:
            if self._clients.get(key) is client:
                client.done_version, client.done_level, client.done_field = version, level, field_version
        deliver(out, camera)


def display_image(out: dict, camera: Camera, what: str) -> tuple[np.ndarray, np.ndarray]:
    """render_camera's dict -> (image (H, W, 3) float in [0, 1] showing ``what``: 'rgb', 'depth'
    or 'normal', z-depth (H, W) in unit-frame units for compositing, far where nothing was hit)."""
    from ..render.to_files import ray_to_z_depth

    z = np.where(out["mask"], ray_to_z_depth(out["depth"], camera), 1e3).astype(np.float32)
    if what == "depth":
        near, far = np.percentile(z[out["mask"]], [1, 99]) if out["mask"].any() else (0.0, 1.0)
        gray = 1.0 - np.clip((z - near) / max(far - near, 1e-6), 0.0, 1.0)
        image = np.where(out["mask"][..., None], gray[..., None] * 0.85 + 0.15, 1.0).repeat(3, axis=-1)
    elif what == "normal":
        image = np.where(out["mask"][..., None], (out["normal"] + 1.0) / 2.0, 1.0)
    else:
        image = out["rgb"]
    return image.astype(np.float32), z
