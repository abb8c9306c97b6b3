"""A world frame for a structure-from-motion model, whose own frame and scale are arbitrary.

The new frame is a similarity X' = s R (X - c): the centre c of the object points' box goes to the origin,
the cameras' average image-up direction becomes +z, and the object's radius (95th percentile
distance of its sparse points from c) becomes 1. The object is told apart from background points
by where the cameras look: points far from the optical axes' common focus (a median/MAD cut)
are left out. Before that cut, a support plane found in the points (:func:`support_plane`: a wall
the object hangs on, a textured table), if it reaches past the object to the frame (:mod:`.support`;
a plinth's flat top does not), takes its points and everything behind it away: a
wallpaper gives SfM more points than the object, and the cut around the focus alone then kept
the wall (masks of 94-98 % of each photo on instant-ngp's fox, 100 % on the synthetic hung object).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scene.camera import Camera
from ..scene.camera_paths import average_up
from .align import transform_camera
from .support import points_reach, verdict

#: Points seen in fewer images are poorly triangulated; used when enough such points exist.
MIN_TRACK = 3
MIN_POINTS = 20
#: Cut at median + MAD_CUT * sigma of the distance to the focus (sigma = 1.4826 MAD).
MAD_CUT = 3.0
#: Share of the robust points' extent added on each side of their bounding box.
BBOX_PAD = 0.1
RADIUS_PERCENTILE = 95
#: Support plane: RANSAC trials; inlier distance as a share of the points' median distance to the
#: focus; the least share of the points on it; the most share of the points behind it (further
#: than 3 inlier distances on the side away from the cameras) and nearer the focus than the median
#: point. A wall or table hides what is behind it; a planar face of the object (a facade, a box's
#: top) has the rest of the object behind it, near the focus. Far behind a wall lie the ghosts of
#: its repeated pattern matched to the wrong repeat (12 % of the SfM points of the synthetic hung
#: object's 40 photos; 0.3 % near the focus).
PLANE_TRIALS, PLANE_TOL, PLANE_SUPPORT, PLANE_BEHIND = 400, 0.02, 0.2, 0.02


@dataclass
class SceneFrame:
    """The similarity X' = s R X + t into the chosen frame, and what it was chosen from.

    Attributes:
        s: scale (new units per SfM unit); R: (3, 3) rotation; t: (3,) translation (= -s R c).
        center: (3,) object centre c in SfM coordinates.
        inliers: (P,) bool, the points taken as the object.
        bbox: (2, 3) padded box of the inlier points, in the new frame.
        plane: (4,) support plane (n, d) in the new frame, n.X + d = 0 with n towards the
            cameras (see :func:`support_plane`), or None.
        ambiguous: a plane found in the points may be the support or a flat face of the object
            (:mod:`.support`); it was kept as object (``plane`` is None).
    """

    s: float
    R: np.ndarray
    t: np.ndarray
    center: np.ndarray
    inliers: np.ndarray
    bbox: np.ndarray
    plane: np.ndarray | None = None
    ambiguous: bool = False

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


def support_plane(points: np.ndarray, cameras: list[Camera], seed: int = 0) -> np.ndarray | None:
    """(4,) plane (n, d), n.X + d = 0, unit n towards the cameras, that the scene stands or hangs
    on: of the planes through PLANE_TRIALS random triples of ``points`` (P, 3) with every camera
    in front and the cameras' common focus not behind, the one with most points within the inlier
    distance, refitted to them by least squares; None unless PLANE_SUPPORT of the points lie on
    it and at most PLANE_BEHIND of them behind it near the focus."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(points) < MIN_POINTS:
        return None
    focus = common_focus(cameras)
    centres = np.array([c.center for c in cameras])
    dist = np.linalg.norm(points - focus, axis=1)
    tol, near = inlier_distance(points, cameras), dist < np.median(dist)
    rng = np.random.default_rng(seed)
    best, best_count = None, int(PLANE_SUPPORT * len(points)) - 1
    for triple in rng.integers(0, len(points), (PLANE_TRIALS, 3)):
        plane = plane_through(*points[triple])
        if plane is None:
            continue
        n, d = plane[:3], plane[3]
        if n @ focus + d < 0:
            n, d = -n, -d
        heights = points @ n + d
        count = int(np.count_nonzero(np.abs(heights) < tol))
        behind = np.count_nonzero((heights < -3 * tol) & near) / len(points)
        if count > best_count and np.all(centres @ n + d > 0) and behind <= PLANE_BEHIND:
            best, best_count = np.append(n, d), count
    if best is None:
        return None
    plane = fitted_plane(points[np.abs(points @ best[:3] + best[3]) < tol])
    return plane if plane[:3] @ best[:3] > 0 else -plane


def plane_through(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray | None:
    """(4,) the plane (n, d), n.X + d = 0 with unit n, through the points a, b, c (3,); None when
    they lie on a line."""
    n = np.cross(b - a, c - a)
    if np.linalg.norm(n) < 1e-12:
        return None
    n /= np.linalg.norm(n)
    return np.append(n, -n @ a)


def fitted_plane(points: np.ndarray) -> np.ndarray:
    """(4,) the least-squares plane (n, d), unit n, through points (P, 3), P >= 3."""
    mean = points.mean(0)
    n = np.linalg.svd(points - mean, full_matrices=False)[2][-1]
    return np.append(n, -n @ mean)


def inlier_distance(points: np.ndarray, cameras: list[Camera]) -> float:
    """A support plane's inlier distance: PLANE_TOL of the points' (P, 3) median distance to the focus."""
    return PLANE_TOL * float(np.median(np.linalg.norm(points - common_focus(cameras), axis=1)))


def support_verdict(plane: np.ndarray, points: np.ndarray, track_lengths: np.ndarray, cameras: list[Camera]) -> str:
    """:func:`.support.verdict` on a plane (4,) found in the points (P, 3): does it reach past the
    other points near the focus (the object, whatever side of the plane) to the frame?"""
    on = np.abs(points @ plane[:3] + plane[3]) < inlier_distance(points, cameras)
    near = object_points(points, track_lengths, cameras)
    return verdict(points_reach(points[on], points[near & ~on], cameras))


def object_points(
    points: np.ndarray, track_lengths: np.ndarray, cameras: list[Camera], plane: np.ndarray | None = None
) -> np.ndarray:
    """(P,) bool: well-triangulated points near the cameras' common focus, off the support plane.

    Keeps points with track length >= MIN_TRACK (all points if fewer than MIN_POINTS qualify),
    drops the points on or behind ``plane`` (4,) (as from :func:`support_plane`; within its
    inlier distance) unless fewer than MIN_POINTS would stay, then drops those whose distance to
    the focus exceeds median + MAD_CUT * 1.4826 * MAD.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    keep = np.asarray(track_lengths) >= MIN_TRACK
    if keep.sum() < MIN_POINTS:
        keep = np.ones(len(points), dtype=bool)
    focus = common_focus(cameras)
    if plane is not None:
        front = points @ plane[:3] + plane[3] > inlier_distance(points, cameras)
        if (keep & front).sum() >= MIN_POINTS:
            keep &= front
    dist = np.linalg.norm(points - focus, axis=1)
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
    plane = support_plane(points, cameras)
    kind = "support" if plane is None else support_verdict(plane, points, track_lengths, cameras)
    plane = plane if kind == "support" else None  # a flat face of the object (a plinth's top) stays object
    inliers = object_points(points, track_lengths, cameras, plane)
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
    if plane is not None:  # n.X + d = 0 -> n'.X' + d' = 0 with n' = R n, X' = s R X + t
        n = R @ plane[:3]
        plane = np.append(n, s * plane[3] - n @ t)
    return SceneFrame(s, R, t, center, inliers, np.stack([lo - pad, hi + pad]), plane, kind == "ambiguous")
