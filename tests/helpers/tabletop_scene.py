"""Analytic tabletop captures: boxes and spheres (the object, or a plinth that is part of it) on a
table z = 0, optionally before a wall x = WALL_X, ray-cast exactly per pixel.

Each surface is textured (random colour blobs, which SfM and the plane tests can use) or plain
(one colour: a white table gives SfM no points). :func:`render` returns the photo and the
object's true mask (what is not table or wall), :func:`first_hits` each pixel's surface point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from dvr_cli.scene import Camera
from make_example import sphere_cameras

#: The wall's plane x = WALL_X (behind the object for cameras at +x).
WALL_X = -0.9


def blobs(seed: int) -> np.ndarray:
    """(256, 256, 3) float [0.1, 0.9] smooth random colour blobs."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0.1, 0.9, (24, 24, 3)).astype(np.float32)
    return cv2.resize(small, (256, 256), interpolation=cv2.INTER_CUBIC).clip(0, 1)


@dataclass
class Surface:
    """One surface: kind 'box' (lo, hi), 'sphere' (centre, radius), 'table' (z = 0) or 'wall'
    (x = WALL_X); ``colour`` a (3,) plain colour, or None for blobs of ``seed`` at ``period``; SfM
    finds the share ``side_points`` of the points of a box's upright faces (a plinth's sides, seen
    at a glancing angle from above, give few)."""

    kind: str
    a: np.ndarray = field(default_factory=lambda: np.zeros(3))
    b: np.ndarray | float = 0.0
    colour: np.ndarray | None = None
    seed: int = 0
    period: float = 1.0
    is_object: bool = True
    side_points: float = 1.0

    def cast(self, o: np.ndarray, d: np.ndarray) -> np.ndarray:
        """(N,) ray length to the surface (inf where missed) of rays o (3,) + t d (N, 3)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "box":
                t0, t1 = (self.a - o) / d, (np.asarray(self.b) - o) / d
                near, far = np.nanmax(np.minimum(t0, t1), 1), np.nanmin(np.maximum(t0, t1), 1)
                return np.where((far >= near) & (near > 0), near, np.inf)
            if self.kind == "sphere":
                oc = o - self.a
                aq, bq = np.sum(d * d, 1), d @ oc
                disc = bq**2 - aq * (oc @ oc - float(self.b) ** 2)
                t = (-bq - np.sqrt(np.maximum(disc, 0))) / aq
                return np.where((disc >= 0) & (t > 0), t, np.inf)
            axis, level = (2, 0.0) if self.kind == "table" else (0, WALL_X)
            t = (level - o[axis]) / d[:, axis]
            return np.where(t > 0, t, np.inf)

    def found(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(N,) bool: which of the surface points X (N, 3) SfM finds (texture, see ``side_points``)."""
        if self.colour is not None:
            return np.zeros(len(X), bool)
        if self.kind != "box":
            return np.ones(len(X), bool)
        return (np.abs(X[:, 2] - np.asarray(self.b)[2]) < 1e-6) | (rng.random(len(X)) < self.side_points)

    def paint(self, X: np.ndarray) -> np.ndarray:
        """(N, 3) colours of surface points X (N, 3)."""
        if self.colour is not None:
            return np.broadcast_to(np.asarray(self.colour, np.float32), X.shape).copy()
        paper = blobs(self.seed)
        uv = np.stack([X[:, 0] + X[:, 2], X[:, 1] - 0.7 * X[:, 2]], 1) if self.kind != "wall" else X[:, 1:]
        ij = np.floor((uv / self.period % 1.0) * 255).astype(int)
        return paper[ij[:, 1], ij[:, 0]]


def first_hits(surfaces: list[Surface], camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel (row-major) of ``camera``: the first surface point (H*W, 3), the index of its
    surface (H*W,), and whether anything is hit (H*W,) bool."""
    H, W = camera.height, camera.width
    v, u = np.mgrid[0:H, 0:W]
    pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], 1)
    dirs = pix @ np.linalg.inv(camera.K).T @ camera.R  # z-depth = t for these (unnormalised) rays
    t = np.stack([s.cast(camera.center, dirs) for s in surfaces], 1)
    first = np.argmin(t, 1)
    depth = t[np.arange(len(t)), first]
    hit = np.isfinite(depth)
    return camera.center + np.where(hit, depth, 0)[:, None] * dirs, first, hit


def render(surfaces: list[Surface], camera: Camera) -> dict:
    """{'rgb' (H, W, 3) float32, 'mask' (H, W) bool the object's pixels} of ``camera``."""
    X, first, hit = first_hits(surfaces, camera)
    rgb = np.full((len(X), 3), 0.5, np.float32)
    for k, s in enumerate(surfaces):
        sel = hit & (first == k)
        rgb[sel] = s.paint(X[sel])
    obj = hit & np.array([s.is_object for s in surfaces])[first]
    H, W = camera.height, camera.width
    return {"rgb": rgb.reshape(H, W, 3), "mask": obj.reshape(H, W)}


def plinth_scene() -> list[Surface]:
    """A textured sphere on a textured plinth with a flat top whose sides give SfM few points
    (1 %), standing on a plain white table."""
    return [
        Surface("sphere", np.array([0.0, 0.0, 1.05]), 0.3, seed=1, period=0.4),
        Surface(
            "box", np.array([-0.45, -0.45, 0.0]), np.array([0.45, 0.45, 0.75]), seed=2, period=0.5, side_points=0.01
        ),
        Surface("table", colour=np.array([0.93, 0.93, 0.93]), is_object=False),
    ]


def table_and_wall_scene(wall: bool = True, table: bool = True) -> list[Surface]:
    """A textured box and sphere on a textured table, before a textured wall (each optional)."""
    scene = [
        Surface("box", np.array([-0.35, -0.3, 0.0]), np.array([0.35, 0.3, 0.5]), seed=3, period=0.5),
        Surface("sphere", np.array([0.0, 0.0, 0.8]), 0.3, seed=4, period=0.4),
    ]
    if table:
        scene.append(Surface("table", seed=5, period=1.5, is_object=False))
    if wall:
        scene.append(Surface("wall", seed=6, period=1.5, is_object=False))
    return scene


def tabletop_cameras(
    n: int = 12,
    size: tuple[int, int] = (128, 96),
    distance: float = 3.2,
    elevation: tuple[float, float] = (20.0, 60.0),
    azimuth: float = 180.0,
) -> list[Camera]:
    """``n`` cameras over the table looking at (0, 0, 0.5), within ``azimuth`` degrees either
    side of +x (a wall at x = WALL_X stays behind the object)."""
    cams = sphere_cameras(4 * n, np.array([0.0, 0.0, 0.5]), distance, size, 0.9 * size[0], elevation)
    keep = [c for c in cams if abs(np.degrees(np.arctan2(c.center[1], c.center[0]))) <= azimuth]
    return keep[:: max(1, len(keep) // n)][:n]


def surface_points(surfaces: list[Surface], cameras: list[Camera], n: int = 2000, seed: int = 0) -> np.ndarray:
    """(P, 3) sparse points: the textured surfaces' pixels seen in at least 3 views (a plain
    surface gives none), drawn from the views' depth maps."""
    rng = np.random.default_rng(seed)
    points = []
    for camera in cameras:
        X, first, hit = first_hits(surfaces, camera)
        found = np.zeros(len(X), bool)
        for k, s in enumerate(surfaces):
            on = hit & (first == k)
            found[on] = s.found(X[on], rng)
        X = X[found]
        points.append(X[rng.choice(len(X), min(len(X), n // len(cameras)), replace=False)])
    points = np.concatenate(points)
    seen = sum(_visible(surfaces, c, points) for c in cameras)
    return points[seen >= 3]


def _visible(surfaces: list[Surface], camera: Camera, X: np.ndarray) -> np.ndarray:
    """(N,) bool: X in the camera's frame and not hidden by a nearer surface."""
    uv, z = camera.project_depth(X)
    inside = (z > 0) & camera.in_image(uv)
    d = X - camera.center
    dist = np.linalg.norm(d, axis=1)
    t = np.stack([s.cast(camera.center, d / dist[:, None]) for s in surfaces], 1).min(1)
    return inside & (t >= dist - 1e-4 * (1 + dist))
