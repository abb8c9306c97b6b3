"""Analytic box scenes for fitting tests: exact photos and masks of a coloured axis-aligned box.

``make_box_scene`` renders a box [lo, hi] (unit frame = world frame) from cameras on a ring; a
long brick seen from close cameras runs out of most frames (a cropped object), a thin plate is a
thin structure.
"""

from __future__ import annotations

import numpy as np

from dvr_cli.scene.camera import Camera, look_at
from dvr_cli.scene.types import Normalization, Scene, View


def box_colour(points: np.ndarray) -> np.ndarray:
    """(N, 3) points -> (N, 3) smooth colour in [0.1, 0.9]."""
    return 0.5 + 0.4 * np.sin(2.5 * points + np.array([0.0, 2.0, 4.0]))


def ring(n: int, distance: float, size: int, focal: float, elevations=(0.45, -0.35)) -> list[Camera]:
    """``n`` cameras at ``distance`` from the origin, alternating elevations (radians), looking at it."""
    cams = []
    for i in range(n):
        a, e = 2 * np.pi * i / n + 0.1, elevations[i % len(elevations)]
        eye = distance * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
        R, t = look_at(eye, np.zeros(3))
        K = np.array([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1.0]])
        cams.append(Camera(K, R, t, size, size, name=f"{i:03d}.png"))
    return cams


def cast_box(camera: Camera, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) image on white and (H, W) bool mask of the box [lo, hi] (slab test per pixel)."""
    v, u = np.mgrid[0 : camera.height, 0 : camera.width]
    pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)
    dirs = pix @ np.linalg.inv(camera.K).T @ camera.R
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    o = camera.center
    with np.errstate(divide="ignore", invalid="ignore"):
        t0, t1 = (np.asarray(lo) - o) / dirs, (np.asarray(hi) - o) / dirs
    near = np.nanmax(np.minimum(t0, t1), axis=1)
    far = np.nanmin(np.maximum(t0, t1), axis=1)
    hit = far >= np.maximum(near, 0)
    image = np.ones((u.size, 3))
    image[hit] = box_colour(o + near[hit, None] * dirs[hit])
    shape = (camera.height, camera.width)
    return image.reshape(*shape, 3).astype(np.float32), hit.reshape(shape)


def make_box_scene(lo, hi, cameras: list[Camera]) -> Scene:
    views = []
    for cam in cameras:
        image, mask = cast_box(cam, lo, hi)
        views.append(View(cam, image, mask, None, None))
    return Scene(views, Normalization(np.zeros(3), 1.0, "bbox"))


def box_surface_points(lo, hi, n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) points uniformly on the box's surface (by face area)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    size = hi - lo
    areas = np.array([size[1] * size[2], size[0] * size[2], size[0] * size[1]] * 2)
    rng = np.random.default_rng(seed)
    face = rng.choice(6, size=n, p=areas / areas.sum())
    points = rng.uniform(lo, hi, size=(n, 3))
    axis = face % 3
    points[np.arange(n), axis] = np.where(face < 3, lo[axis], hi[axis])
    return points
