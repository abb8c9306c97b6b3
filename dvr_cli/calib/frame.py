"""A world frame for a structure-from-motion model, whose own frame and scale are arbitrary.

The new frame is a similarity X' = s R (X - c): the centre c of the object points' box goes to the origin,
the cameras' average image-up direction becomes +z, and the object's radius (95th percentile
distance of its sparse points from c) becomes 1. The object is told apart from background points
by where the cameras look: points far from the optical axes' common focus (a median/MAD cut)
are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scene.camera import Camera
from .align import transform_camera

#: Points seen in fewer images are poorly triangulated; used when enough such points exist.
MIN_TRACK = 3
MIN_POINTS = 20
#: Cut at median + MAD_CUT * sigma of the distance to the focus (sigma = 1.4826 MAD).
MAD_CUT = 3.0
#: Share of the robust points' extent added on each side of their bounding box.
BBOX_PAD = 0.1
RADIUS_PERCENTILE = 95


@dataclass
class SceneFrame:
    """The similarity X' = s R X + t into the chosen frame, and what it was chosen from.

    Attributes:
        s: scale (new units per SfM unit); R: (3, 3) rotation; t: (3,) translation (= -s R c).
        center: (3,) object centre c in SfM coordinates.
        inliers: (P,) bool, the points taken as the object.
        bbox: (2, 3) padded box of the inlier points, in the new frame.
    """

    s: float
    R: np.ndarray
    t: np.ndarray
    center: np.ndarray
    inliers: np.ndarray
    bbox: np.ndarray

    def points(self, X: np.ndarray) -> np.ndarray:
        """(N, 3) SfM points -> (N, 3) points in the new frame."""
        return self.s * np.asarray(X, dtype=np.float64) @ self.R.T + self.t

    def camera(self, camera: Camera) -> Camera:
        """A camera in SfM coordinates -> the same camera in the new frame (pixels unchanged)."""
        return transform_camera(camera, self.s, self.R, self.t)


def common_focus(cameras: list[Camera]) -> np.ndarray:
    """(3,) point closest to all optical axes in least squares.

    Solves sum_i (I - d_i d_i^T) (X - C_i) = 0 with C_i the centres, d_i the viewing directions.
    """
    A, b = np.zeros((3, 3)), np.zeros(3)
    for cam in cameras:
        d = cam.forward / np.linalg.norm(cam.forward)
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ cam.center
    return np.linalg.lstsq(A, b, rcond=None)[0]


def average_up(cameras: list[Camera]) -> np.ndarray:
    """(3,) unit mean of the cameras' image-up directions in the world (-y camera axis, -R[1])."""
    up = -np.mean([cam.R[1] for cam in cameras], axis=0)
    return up / np.linalg.norm(up)


def rotation_to_z(v: np.ndarray) -> np.ndarray:
    """(3, 3) smallest rotation taking the unit vector ``v`` to +z (Rodrigues)."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(v, z)
    sin, cos = np.linalg.norm(axis), float(v @ z)
    if sin < 1e-12:
        return np.eye(3) if cos > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / sin
    Kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + sin * Kx + (1 - cos) * Kx @ Kx


def object_points(points: np.ndarray, track_lengths: np.ndarray, cameras: list[Camera]) -> np.ndarray:
    """(P,) bool: well-triangulated points near the cameras' common focus.

    Keeps points with track length >= MIN_TRACK (all points if fewer than MIN_POINTS qualify),
    then drops those whose distance to the focus exceeds median + MAD_CUT * 1.4826 * MAD.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    keep = np.asarray(track_lengths) >= MIN_TRACK
    if keep.sum() < MIN_POINTS:
        keep = np.ones(len(points), dtype=bool)
    dist = np.linalg.norm(points - common_focus(cameras), axis=1)
    med = np.median(dist[keep])
    sigma = 1.4826 * np.median(np.abs(dist[keep] - med))
    return keep & (dist <= med + MAD_CUT * max(sigma, 1e-12))


def choose_frame(cameras: list[Camera], points: np.ndarray, track_lengths: np.ndarray) -> SceneFrame:
    """Pick the object-centred, z-up, unit-radius frame for an SfM model.

    Args:
        cameras: registered cameras in SfM coordinates.
        points: (P, 3) sparse points; track_lengths: (P,) images per point.
    Returns:
        :class:`SceneFrame` (apply with ``frame.camera(cam)`` and ``frame.points(X)``).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    inliers = object_points(points, track_lengths, cameras)
    obj = points[inliers]
    R = rotation_to_z(average_up(cameras))
    # The middle of the inliers' box (in the z-up axes): unlike the mean it does not drift towards
    # the side of the object with more texture (more points); strays are already cut.
    upright = obj @ R.T
    center = R.T @ ((upright.min(0) + upright.max(0)) / 2)
    radius = np.percentile(np.linalg.norm(obj - center, axis=1), RADIUS_PERCENTILE)
    s = 1.0 / radius
    t = -s * R @ center
    moved = s * obj @ R.T + t
    lo, hi = moved.min(0), moved.max(0)
    pad = BBOX_PAD * (hi - lo)
    return SceneFrame(s, R, t, center, inliers, np.stack([lo - pad, hi + pad]))
