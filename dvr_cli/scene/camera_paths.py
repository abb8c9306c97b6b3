"""Camera paths for novel views: an orbit around what the training cameras look at, following their up."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import DvrError
from .camera import Camera, look_at
from .normalise import common_view_point


def average_up(cameras: Sequence[Camera]) -> np.ndarray:
    """(3,) unit mean of the cameras' image-up directions (-R[1]: OpenCV's y points down)."""
    up = -np.mean([c.R[1] for c in cameras], axis=0)
    norm = np.linalg.norm(up)
    if norm < 1e-6:
        raise DvrError("the cameras' image-up directions cancel out: no common up direction")
    return up / norm


def orbit_cameras(
    train_cameras: Sequence[Camera],
    n_frames: int,
    width: int | None = None,
    height: int | None = None,
    center: np.ndarray | None = None,
) -> list[Camera]:
    """``n_frames`` cameras on a circle around ``center`` (world), all looking at it.

    The circle lies at the training cameras' mean distance from ``center`` and mean elevation
    above the plane normal to their average up vector; it starts at the first training
    camera's azimuth. Intrinsics: the first training camera's, resized to ``width`` x ``height``
    (default: its own size). ``center`` defaults to the point the cameras look at together.
    """
    if n_frames < 1:
        raise DvrError(f"--frames must be at least 1 (got {n_frames})")
    if center is None:
        center = common_view_point(list(train_cameras))
    center = np.asarray(center, dtype=np.float64)
    up = average_up(train_cameras)
    offsets = np.array([c.center - center for c in train_cameras])
    distance = np.linalg.norm(offsets, axis=1)
    elevation = np.arcsin(np.clip(offsets @ up / distance, -1.0, 1.0)).mean()
    first = offsets[0] - (offsets[0] @ up) * up
    if np.linalg.norm(first) < 1e-9:  # first camera straight above: any horizontal start
        first = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 = first / np.linalg.norm(first)
    e2 = np.cross(up, e1)
    base = train_cameras[0]
    base = base.resized(width or base.width, height or base.height)
    cameras = []
    for k, azimuth in enumerate(np.linspace(0.0, 2.0 * np.pi, n_frames, endpoint=False)):
        direction = np.cos(elevation) * (np.cos(azimuth) * e1 + np.sin(azimuth) * e2) + np.sin(elevation) * up
        R, t = look_at(center + distance.mean() * direction, center, up)
        cameras.append(Camera(base.K, R, t, base.width, base.height, name=f"{k:04d}.png"))
    return cameras
