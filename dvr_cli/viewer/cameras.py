"""dvr cameras <-> the viewer's cameras.

The viewer's world is dvr's unit frame (the object inside [-1, 1]^3, whatever the scene's units).
Its cameras follow OpenCV axes like dvr's (x right, y down, z forward) but are given as a pose,
camera-to-world: orientation quaternion ``wxyz`` of R_c2w = R^T and position = the camera centre,
with a vertical field of view and an aspect ratio instead of K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..extras import require
from ..scene.camera import Camera

SO3 = require("viser.transforms").SO3


@dataclass(frozen=True)
class Pose:
    """A viewer camera: ``wxyz`` (4,) rotation camera-to-world, ``position`` (3,) centre,
    ``fov`` vertical field of view in radians, ``aspect`` = width / height."""

    wxyz: np.ndarray
    position: np.ndarray
    fov: float
    aspect: float


def pose_of(camera: Camera) -> Pose:
    """The viewer pose of a dvr camera (its principal point is taken as the image centre)."""
    fov = 2.0 * np.arctan2(camera.height / 2.0, camera.K[1, 1])
    return Pose(SO3.from_matrix(camera.R.T).wxyz, camera.center, float(fov), camera.width / camera.height)


def camera_of(pose: Pose, long_side: int, name: str = "viewer") -> Camera:
    """The dvr camera of a viewer pose, ``long_side`` pixels along its longer image side.

    Square pixels, principal point at the image centre ((W - 1) / 2, (H - 1) / 2 in OpenCV's
    pixel-centre convention), f = (H / 2) / tan(fov / 2); R = R_c2w^T, t = -R position.
    """
    if pose.aspect >= 1:
        width, height = long_side, max(1, round(long_side / pose.aspect))
    else:
        width, height = max(1, round(long_side * pose.aspect)), long_side
    f = (height / 2.0) / np.tan(pose.fov / 2.0)
    K = np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
    R = SO3(np.asarray(pose.wxyz, dtype=np.float64)).as_matrix().T
    return Camera(K, R, -R @ np.asarray(pose.position, dtype=np.float64), width, height, name=name)
