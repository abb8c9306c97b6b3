"""Object masks without a learned model: GrabCut seeded by the sparse points, made consistent
across views by a visual hull.

1. Per view, GrabCut starts from the projected object points: their convex hull (dilated) is
   probable foreground, the rest probable background, a thin image border sure background.
2. A voxel grid over the points' box is carved: a voxel stays if at least ``vote`` of the views
   that see it call it object. One bad view cannot cut the object; background that one view
   mistook for object is removed by the others.
3. The hull is splatted back into each view and GrabCut runs again, seeded by where the hull and
   the first masks agree (sure foreground) and by either of them (probable foreground).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..scene.camera import Camera

#: Width of the image border taken as sure background, as a share of min(H, W).
BORDER = 0.02
#: The points' convex hull is grown by this share of its size before it seeds GrabCut, so
#: silhouette parts with no triangulated feature are still inside.
HULL_GROW = 0.08
GRABCUT_ITERATIONS = 3


def _uint8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float [0, 1] or uint8 -> contiguous uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def _project(camera: Camera, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) world points -> pixels (N, 2) in the raw (distorted) image, depth (N,) along z."""
    depth = camera.world_to_camera(X)[:, 2]
    safe = np.where(depth[:, None] > 1e-9, X, camera.center + camera.forward)  # keep behind-camera points finite
    return camera.project(safe, distort=True), depth


def _border(shape: tuple[int, int]) -> np.ndarray:
    H, W = shape
    b = max(1, int(round(BORDER * min(H, W))))
    edge = np.zeros((H, W), bool)
    edge[:b], edge[-b:], edge[:, :b], edge[:, -b:] = True, True, True, True
    return edge


def _grabcut(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Run GrabCut from a (H, W) uint8 label map (cv2.GC_*); returns the (H, W) bool foreground."""
    labels = labels.copy()
    if not np.any((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)) or not np.any(
        (labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD)
    ):
        return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(image, labels, None, bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def seed_from_points(image: np.ndarray, camera: Camera, points: np.ndarray) -> np.ndarray:
    """First-pass mask of one view: GrabCut seeded by the projected object points.

    Args:
        image: (H, W, 3) uint8; camera: its camera; points: (P, 3) object points (world).
    Returns:
        (H, W) bool mask.
    """
    H, W = image.shape[:2]
    uv, depth = _project(camera, points)
    uv = uv[(depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] <= W - 1) & (uv[:, 1] >= 0) & (uv[:, 1] <= H - 1)]
    labels = np.full((H, W), cv2.GC_PR_BGD, np.uint8)
    if len(uv) >= 3:
        hull = cv2.convexHull(uv.astype(np.float32)).reshape(-1, 2)
        size = np.ptp(hull, axis=0).max()
        grown = np.zeros((H, W), np.uint8)
        cv2.fillConvexPoly(grown, np.round(hull).astype(np.int32), 1)
        r = max(1, int(round(HULL_GROW * size)))
        grown = cv2.dilate(grown, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        labels[grown > 0] = cv2.GC_PR_FGD
    labels[_border((H, W))] = cv2.GC_BGD
    return _grabcut(image, labels)


def carve(cameras: list[Camera], masks: list[np.ndarray], bbox: np.ndarray, resolution: int = 64,
          vote: float = 0.8) -> tuple[np.ndarray, float]:
    """Visual hull by voting.

    Args:
        cameras: per view camera; masks: per view (H, W) bool; bbox: (2, 3) world box to carve.
        resolution: voxels along the box's longest side.
        vote: a voxel is kept if at least this share of the views it projects into call it object.
    Returns:
        centres (V, 3) of the kept voxels, and the voxel side length.
    """
    lo, hi = np.asarray(bbox, dtype=np.float64)
    side = (hi - lo).max() / resolution
    axes = [np.arange(lo[k] + side / 2, hi[k], side) for k in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    seen = np.zeros(len(grid), np.int32)
    outside = np.zeros(len(grid), np.int32)
    for cam, mask in zip(cameras, masks):
        uv, depth = _project(cam, grid)
        i, j = np.round(uv[:, 0]).astype(np.int64), np.round(uv[:, 1]).astype(np.int64)
        ok = (depth > 0) & (i >= 0) & (i < cam.width) & (j >= 0) & (j < cam.height)
        seen += ok
        outside[ok] += ~mask[j[ok], i[ok]]
        # A voxel more views reject than (1 - vote) of all views can never pass: drop it now.
        alive = outside <= (1 - vote) * len(cameras)
        grid, seen, outside = grid[alive], seen[alive], outside[alive]
    keep = (seen > 0) & (outside <= (1 - vote) * seen)
    return grid[keep], side


def splat(camera: Camera, centres: np.ndarray, side: float) -> np.ndarray:
    """(H, W) bool silhouette of voxels (V, 3) of size ``side``: their projected centres, dilated
    by a voxel's projected half-diagonal at the median depth (which closes the gaps between them)."""
    H, W = camera.height, camera.width
    mask = np.zeros((H, W), np.uint8)
    uv, depth = _project(camera, centres)
    ij = np.round(uv).astype(np.int64)
    ok = (depth > 0) & (ij[:, 0] >= 0) & (ij[:, 0] < W) & (ij[:, 1] >= 0) & (ij[:, 1] < H)
    if not ok.any():
        return mask > 0
    mask[ij[ok, 1], ij[ok, 0]] = 1
    r = int(np.ceil(0.87 * side * camera.K[0, 0] / np.median(depth[ok])))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def refine_with_hull(image: np.ndarray, first: np.ndarray, hull: np.ndarray) -> np.ndarray:
    """Second GrabCut of one view: sure foreground where the hull (eroded) and the first mask
    agree, probable foreground where either says object, sure background at the border."""
    H, W = first.shape
    r = max(1, int(round(0.01 * min(H, W))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    core = cv2.erode(hull.astype(np.uint8), kernel) > 0
    labels = np.full((H, W), cv2.GC_PR_BGD, np.uint8)
    labels[hull | first] = cv2.GC_PR_FGD
    labels[core & first] = cv2.GC_FGD
    labels[_border((H, W))] = cv2.GC_BGD
    return _grabcut(image, labels)


def auto_masks(images: list[np.ndarray], cameras: list[Camera], points: np.ndarray, bbox: np.ndarray | None = None,
               resolution: int = 64, vote: float = 0.8, progress=None) -> list[np.ndarray]:
    """Object masks for calibrated photos from their sparse object points.

    Args:
        images: per view (H, W, 3) float in [0, 1] or uint8 RGB (raw, as photographed).
        cameras: per view camera (world frame; ``dist`` is applied, masks match the raw images).
        points: (P, 3) object points (e.g. SfM points kept by calib.frame.object_points).
        bbox: (2, 3) world box to carve; default: the points' box grown by 20% per side.
        resolution, vote: see :func:`carve`.
        progress: optional callable(stage, done, total) with stage 'grabcut', 'hull', 'refine'.
    Returns:
        per view (H, W) bool mask (True = object).
    """
    report = progress or (lambda stage, done, total: None)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if bbox is None:
        lo, hi = points.min(0), points.max(0)
        bbox = np.stack([lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo)])
    images = [_uint8(im) for im in images]
    n = len(images)
    first = []
    for k, (image, cam) in enumerate(zip(images, cameras)):
        first.append(seed_from_points(image, cam, points))
        report("grabcut", k + 1, n)
    centres, side = carve(cameras, first, bbox, resolution, vote)
    report("hull", 1, 1)
    masks = []
    for k, (image, cam, mask) in enumerate(zip(images, cameras, first)):
        masks.append(refine_with_hull(image, mask, splat(cam, centres, side)))
        report("refine", k + 1, n)
    return masks


def write_masks(masks: list[np.ndarray], names: list[str], folder: str | Path) -> list[Path]:
    """Write masks as 8-bit PNGs (255 = object) named like their images (suffix .png)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for mask, name in zip(masks, names):
        path = folder / (Path(name).stem + ".png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(path)
        paths.append(path)
    return paths
