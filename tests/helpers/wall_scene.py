"""A synthetic capture of an object hung on a textured wall, no floor in view: the case of a
mounted trophy or a picture, where the automatic masks find no table under the object.

The example object (make_example) hangs ``gap`` object radii in front of the wall x = const
(normal +x); the cameras look at it from a frontal cap (azimuth within +-AZIMUTH degrees of the
wall's normal, elevation ELEVATION), in order, as a phone sweep takes them; every ray that misses
the object meets the wall's colourful random blobs (a wallpaper).
"""

from __future__ import annotations

import cv2
import numpy as np
from make_example import make_object, render_view

from dvr_cli.scene import Camera, look_at

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


def wall_capture(n: int = 12, size: tuple[int, int] = (160, 120), gap: float = 0.1, texture: str = "fine",
                 seed: int = 0) -> dict:
    """The capture: 'images' per view (H, W, 3) uint8, 'cameras', 'truth' per view (H, W) bool,
    'points' (P, 3) simulated sparse points (object surface and the wall in view), 'object'
    (the number of those that are the object's), 'wall_x' the wall's x."""
    obj = make_object(texture, seed=seed)
    center, radius = obj.bounding_sphere()
    wall_x = obj.vertices[:, 0].min() - gap * radius
    W, H = size
    distance = 2.6 * radius
    focal = 0.42 * H / np.tan(np.arcsin(radius / distance))
    cameras = wall_cameras(n, center, distance, size, focal)
    paper, period = wallpaper(seed + 1), 3.0 * radius
    images, truth = [], []
    for cam in cameras:
        view = render_view(obj, cam, supersample=1)
        u, v = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
        rays = np.stack([(u - cam.K[0, 2]) / cam.K[0, 0], (v - cam.K[1, 2]) / cam.K[1, 1], np.ones_like(u)], -1) @ cam.R
        X = cam.center + ((wall_x - cam.center[0]) / rays[..., 0])[..., None] * rays
        ij = np.floor((X[..., 1:] / period % 1.0) * 511).astype(int)
        wall = paper[511 - ij[..., 1], ij[..., 0]]
        images.append(np.where(view["mask"][..., None], np.round(view["rgb"] * 255), wall).astype(np.uint8))
        truth.append(view["mask"])
    rng = np.random.default_rng(seed)
    surface = obj.sample_surface(600, rng)
    # the wall as far as the views reach: its points seen by at least 3 views
    wall = np.column_stack([np.full(6000, wall_x), rng.uniform(-4, 4, (6000, 2)) * radius + center[1:]])
    seen = sum(_sees(cam, wall) for cam in cameras) >= 3
    points = np.concatenate([surface, wall[seen][:1500]])
    return {"images": images, "cameras": cameras, "truth": truth, "points": points, "object": len(surface),
            "wall_x": wall_x}


def _sees(camera: Camera, X: np.ndarray) -> np.ndarray:
    uv = camera.project(X)
    z = camera.world_to_camera(X)[:, 2]
    return (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
