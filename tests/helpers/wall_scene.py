"""A synthetic capture of an object hung on a textured wall, no floor in view: the case of a
mounted trophy or a picture, where the automatic masks find no table under the object. With
``clutter`` panels between the object and the wall (:func:`held_capture`), the case of an object
held up in front of a cluttered room: no table, and background surfaces at many depths.

The example object (make_example) hangs ``gap`` object radii in front of the wall x = const
(normal +x); the cameras look at it from a frontal cap (azimuth within +-AZIMUTH degrees of the
wall's normal, elevation ELEVATION), in order, as a phone sweep takes them; every ray that misses
the object meets the wall's colourful random blobs (a wallpaper).
"""

from __future__ import annotations

import cv2
import numpy as np

from dvr_cli.scene import Camera, look_at
from make_example import make_object, render_view

AZIMUTH = 60.0
ELEVATION = (-25.0, 35.0)


def wall_cameras(n: int, center: np.ndarray, distance: float, size: tuple[int, int], focal: float) -> list[Camera]:
    """``n`` cameras in a zig-zag sweep over the frontal cap, ``distance`` from ``center``, looking at it."""
    W, H = size
    K = np.array([[focal, 0, (W - 1) / 2], [0, focal, (H - 1) / 2], [0, 0, 1.0]])
    cameras = []
    for k in range(n):
        az = np.radians(-AZIMUTH + 2 * AZIMUTH * k / max(n - 1, 1))
        el = np.radians(ELEVATION[0] + (ELEVATION[1] - ELEVATION[0]) * (0.5 + 0.5 * np.sin(2.4 * k)))
        eye = center + distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        R, t = look_at(eye, center, up=(0, 0, 1))
        cameras.append(Camera(K.copy(), R, t, W, H, name=f"{k:03d}.png"))
    return cameras


def wallpaper(seed: int) -> np.ndarray:
    """(512, 512, 3) uint8 colourful blobs."""
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8), (512, 512), interpolation=cv2.INTER_CUBIC)


def wall_capture(
    n: int = 12,
    size: tuple[int, int] = (160, 120),
    gap: float = 0.1,
    texture: str = "fine",
    seed: int = 0,
    clutter: int = 0,
) -> dict:
    """The capture: 'images' per view (H, W, 3) uint8, 'cameras', 'truth' per view (H, W) bool,
    'points' (P, 3) simulated sparse points (object surface, the wall and panels in view),
    'object' (the number of those that are the object's), 'wall_x' the wall's x. ``clutter``
    panels (squares of 0.6-1.5 object radii, each its own wallpaper, facing the cameras) stand at
    random places between the wall and the object's back."""
    obj = make_object(texture, seed=seed)
    center, radius = obj.bounding_sphere()
    wall_x = obj.vertices[:, 0].min() - gap * radius
    W, H = size
    distance = 2.6 * radius
    focal = 0.42 * H / np.tan(np.arcsin(radius / distance))
    cameras = wall_cameras(n, center, distance, size, focal)
    clutter_rng = np.random.default_rng([seed, 1])
    # background planes x = const, nearest first: (x, centre (y, z) or None for unbounded, half side, paper)
    panels = [
        (
            wall_x + clutter_rng.uniform(0.1, 0.9) * (gap - 0.3) * radius,
            center[1:] + clutter_rng.uniform(-2.5, 2.5, 2) * radius,
            clutter_rng.uniform(0.6, 1.5) * radius,
            wallpaper(seed + 2 + k),
        )
        for k in range(clutter)
    ]
    planes = sorted(panels, key=lambda p: -p[0]) + [(wall_x, None, np.inf, wallpaper(seed + 1))]
    period = 3.0 * radius
    images, truth = [], []
    for cam in cameras:
        view = render_view(obj, cam, supersample=1)
        u, v = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
        rays = np.stack([(u - cam.K[0, 2]) / cam.K[0, 0], (v - cam.K[1, 2]) / cam.K[1, 1], np.ones_like(u)], -1) @ cam.R
        background = np.zeros((H, W, 3), np.uint8)
        todo = np.ones((H, W), bool)
        for x, middle, half, paper in planes:
            X = cam.center + ((x - cam.center[0]) / rays[..., 0])[..., None] * rays
            hit = todo if middle is None else todo & (np.abs(X[..., 1:] - middle).max(-1) <= half)
            ij = np.floor((X[..., 1:] / period % 1.0) * 511).astype(int)
            background[hit] = paper[511 - ij[..., 1], ij[..., 0]][hit]
            todo &= ~hit
        images.append(np.where(view["mask"][..., None], np.round(view["rgb"] * 255), background).astype(np.uint8))
        truth.append(view["mask"])
    rng = np.random.default_rng(seed)
    surface = obj.sample_surface(600, rng)
    # the wall as far as the views reach, and the panels: their points seen by at least 3 views
    wall = np.column_stack([np.full(6000, wall_x), rng.uniform(-4, 4, (6000, 2)) * radius + center[1:]])
    seen = sum(_sees(cam, wall) for cam in cameras) >= 3
    panel_points = [
        np.column_stack([np.full(300, x), middle + clutter_rng.uniform(-half, half, (300, 2))])
        for x, middle, half, _ in panels
    ]
    points = np.concatenate(
        [surface, wall[seen][:1500]] + [p[sum(_sees(cam, p) for cam in cameras) >= 3] for p in panel_points]
    )
    return {
        "images": images,
        "cameras": cameras,
        "truth": truth,
        "points": points,
        "object": len(surface),
        "wall_x": wall_x,
    }


def _sees(camera: Camera, X: np.ndarray) -> np.ndarray:
    uv = camera.project(X)
    z = camera.world_to_camera(X)[:, 2]
    return (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)


def held_capture(n: int = 12, size: tuple[int, int] = (160, 120), seed: int = 0) -> dict:
    """The object held up two radii in front of a wall, eight panels of other wallpapers between
    (a cluttered room; no table, no hand modelled): :func:`wall_capture`'s dictionary."""
    return wall_capture(n, size, gap=2.0, seed=seed, clutter=8)
