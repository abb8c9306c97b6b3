"""Choosing the normalisation: the similarity that puts the object inside [-1, 1]^3.

Sources, best first: a normalisation the camera file carries (a calibrated scene's own, DTU's
scale_mat); a bbox given with the cameras; the visual hull of the masks; the cameras' common
view point and field of view.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DvrError
from .camera import Camera
from .hull import visual_hull
from .types import Normalization

# The object's box fills 1 / MARGIN of the cube, so surfaces never sit on the cube's faces.
MARGIN = 1.1
HULL_RESOLUTION = 64  # cells on the longest side of the refining grid
SEARCH_RESOLUTION = 32  # cells per side of the grids that look for the hull


def from_bbox(bbox: np.ndarray, source: str = "bbox", margin: float = MARGIN) -> Normalization:
    """(2, 3) world box [min, max] -> centre = box centre, scale = margin * half the longest side."""
    bbox = np.asarray(bbox, dtype=np.float64)
    return Normalization((bbox[0] + bbox[1]) / 2, margin * float(np.max(bbox[1] - bbox[0])) / 2, source)


def common_view_point(cameras: list[Camera]) -> np.ndarray:
    """(3,) the point nearest (least squares) to every camera's optical axis.

    Minimises sum_i |(I - d_i d_i^T)(x - C_i)|^2 over x, with C_i the centre and d_i the
    viewing direction of camera i. Raises DvrError when the axes are (nearly) parallel, as in
    a forward-facing capture where they do not single out an object.
    """
    A, b = np.zeros((3, 3)), np.zeros(3)
    for camera in cameras:
        projector = np.eye(3) - np.outer(camera.forward, camera.forward)
        A += projector
        b += projector @ camera.center
    if np.linalg.eigvalsh(A / len(cameras))[0] < 1e-3:  # axes within ~2 degrees of each other
        raise DvrError(
            "the cameras' optical axes are nearly parallel, so they do not locate the object; "
            "give a 'bbox' in cams.json"
        )
    point = np.linalg.solve(A, b)
    if np.median([camera.world_to_camera(point[None])[0, 2] for camera in cameras]) <= 0:
        raise DvrError(
            "the cameras look away from each other (their axes meet behind them); give a 'bbox' in cams.json"
        )
    return point


def _visible_radius(camera: Camera, point: np.ndarray, corner: bool) -> float:
    """Half the width of ``camera``'s view at ``point``'s depth: to the image's nearest edge,
    or with ``corner`` to its farthest corner."""
    depth = camera.world_to_camera(point[None])[0, 2]
    fx, fy, cx, cy = camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2]
    half_x = np.array([cx + 0.5, camera.width - 0.5 - cx]) / fx
    half_y = np.array([cy + 0.5, camera.height - 0.5 - cy]) / fy
    if corner:
        return depth * math.hypot(half_x.max(), half_y.max())
    return depth * min(half_x.min(), half_y.min())


def from_cameras(cameras: list[Camera]) -> Normalization:
    """Centre at the common view point; scale: the median radius the views see there."""
    center = common_view_point(cameras)
    radius = float(np.median([_visible_radius(c, center, corner=False) for c in cameras]))
    return Normalization(center, radius, "cameras")


def _grid(lo: np.ndarray, hi: np.ndarray, resolution: int) -> tuple[np.ndarray, float]:
    """Cell centres (N, 3) of a cubic-cell grid over [lo, hi] with ``resolution`` cells on the
    longest side, and the cell size."""
    size = float(np.max(hi - lo)) / resolution
    counts = np.maximum(1, np.ceil((hi - lo) / size).astype(int))
    axes = [lo[k] + (np.arange(counts[k]) + 0.5) * size for k in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3), size


def visual_hull_bbox(cameras: list[Camera], masks: list[np.ndarray], resolution: int = HULL_RESOLUTION) -> np.ndarray:
    """(2, 3) world box around the masks' visual hull.

    A coarse grid over a cube around the common view point (as wide as the widest view there)
    finds the hull; the cube grows while the hull touches its faces; a second grid over the
    hull's box refines it. The box is padded by one fine cell.
    """
    center = common_view_point(cameras)
    radius = max(_visible_radius(c, center, corner=True) for c in cameras)
    for _ in range(4):
        lo, hi = center - radius, center + radius
        points, cell = _grid(lo, hi, SEARCH_RESOLUTION)
        kept = points[visual_hull(cameras, masks, points)]
        if len(kept) == 0:
            raise DvrError(
                "the masks' visual hull is empty: masks and cameras disagree (wrong masks, order or camera convention?)"
            )
        touches = np.any(kept.min(0) - cell < lo) or np.any(kept.max(0) + cell > hi)
        if not touches:
            break
        radius *= 2
    points, fine = _grid(kept.min(0) - cell, kept.max(0) + cell, resolution)
    kept = points[visual_hull(cameras, masks, points)]
    return np.stack([kept.min(0) - fine, kept.max(0) + fine])


def choose_normalization(
    cameras: list[Camera],
    masks: list[np.ndarray | None],
    bbox: np.ndarray | None = None,
    given: Normalization | None = None,
) -> tuple[Normalization, np.ndarray]:
    """The normalisation and the world bbox of the object, from the best source available.

    Args:
        cameras: world cameras matching ``masks`` in pixel size.
        masks: (H, W) bool per view, or None where a view has none (the hull needs every mask).
        bbox: (2, 3) region from the camera file, if any.
        given: a normalisation the camera file carries (DTU scale_mat, a calibrated scene).
    """
    if bbox is not None:
        return (given if given is not None else from_bbox(bbox)), np.asarray(bbox, dtype=np.float64)
    if given is not None:
        return given, given.bbox
    if len(masks) >= 2 and all(m is not None for m in masks):
        hull = visual_hull_bbox(cameras, masks)
        return from_bbox(hull, "visual_hull"), hull
    normalization = from_cameras(cameras)
    return normalization, normalization.bbox
