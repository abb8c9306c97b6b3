"""Object masks without a learned model: the sparse object points say where the object can be,
the table plane says where it cannot, GrabCut draws its outline, the visual hull of all masks
says how far each mask can be trusted and restores what one view's labels cut away.

1. The table. The object rests on a plane; the plane is found by the photos, not by the points
   (a white or dark table gives SfM few points): candidate normals around the cameras' side, each
   plane put under the object's points (``TABLE_PERCENTILE`` of their heights), scored by how many
   textured patches of a few views it maps onto the same patches of their neighbours (normalised
   cross-correlation, a plane homography test at quarter size). It is the table only when
   nothing of the object lies beyond it (:func:`.support.verdict`: a plinth's flat top has the
   plinth under it and stays object). Points less than ``MIN_HEIGHT`` above it are table, not object.
2. Where the object can be. The object points fill a voxel grid; grown by ``NEAR`` voxels it is
   the probable object; outside the points' convex hull grown by ``FAR`` voxels is sure
   background, in every view that sees it; nothing under the table plane is object. This is 3D,
   so an object cut by the image border keeps its cut parts (no border prior).
3. GrabCut per view from these labels (object points' pixels sure object; textured pixels that
   the neighbouring views see the same through the table plane, and not through a plane
   MIN_HEIGHT above it, sure background): colour decides in the band between near and far, so
   real holes stay holes and shadows follow the table's colour. The first cut's colour models
   are learned from the sure pixels only, not from the band (see :func:`_grabcut`).
4. Consistency: the masks' voting visual hull (:func:`dvr_cli.scene.hull.visual_hull`; a view that
   does not see a point does not vote) is splatted back into each view; a mask's confidence is its
   IoU with that splat. A view that disagrees with the others (confidence under ``REDO_BELOW``) is
   cut again with the hull's cells beyond ``FAR`` as probable object: a textureless part without
   points (a skull's top seen from above) that the other views' masks show comes back.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.spatial import Delaunay, QhullError

from ..errors import DvrError
from ..files import read_json, to_uint8, write_json
from ..scene.camera import Camera
from ..scene.hull import visual_hull
from .support import AMBIGUOUS_TRUST, BEYOND_DEPTH, reach_share, reaches_past, verdict

#: Voxels along the longest side of the object's box.
RESOLUTION = 96
#: Voxels by which the object points' grid is grown: probable object (NEAR), beyond FAR sure
#: background. With no table found nothing bounds the parts without points (an underside the
#: cameras barely see): FAR_NO_TABLE. On the example with the lowest 25% of its surface bare of
#: points, FAR 5 lost up to 15% of a silhouette, 12 lost 0.3%; on DTU (a table) 10 let more table in.
#: A 64^3 grid grown by 2 voxels reached 20-30 px past DTU 69's outline at 400x300 (README).
NEAR, FAR, FAR_NO_TABLE = 1, 5, 12
#: The box of the points is padded by this share per side so grown voxels stay inside it.
BOX_PAD = 0.3
#: GrabCut iterations (the first with the sure pixels' colour models, see _grabcut). A view starts
#: from all its labels instead when it has fewer than MIN_SURE_PIXELS sure object or background
#: pixels, or when its sure background is under MIN_SURE_SHARE of its background side: too few to
#: stand for it (the synthetic cut scene, whose textured floor is mostly probable background:
#: worst IoU 0.80 from the sure pixels, 0.91 from all labels; the DTU figures move by 0.001 or less).
GRABCUT_ITERATIONS, MIN_SURE_PIXELS, MIN_SURE_SHARE = 3, 50, 0.1
#: The table plane sits at this percentile of the object points' heights (a few points below: noise).
TABLE_PERCENTILE = 2.0
#: Points closer to the table than this (object radius 1) are the table's. At 0.05 DTU 24 lost
#: the points of the low plate its building stands on (mean / worst mask IoU 0.968 / 0.900 vs 0.991 / 0.961 at 0.02).
MIN_HEIGHT = 0.02
#: Plane search: candidate normals within this angle of the direction object -> cameras.
MAX_TILT_DEG = 75.0
N_NORMALS = 300
#: Plane score: views scored, image scale, grey-level standard deviation (0..255) of a textured
#: patch. A patch agrees with a neighbour's patch through the plane when their normalised cross-
#: correlation exceeds NCC_AGREE (patches NCC_WINDOW pixels wide). Colour differences (< 8 of
#: 255), tried first, took dark objects for a table and missed the DTU tables under their views'
#: changing exposure: the plane found on DTU 24 and 69 stood upright behind the object.
SCORE_VIEWS, SCORE_SCALE, TEXTURE = 6, 0.25, 3.0
#: Table pixels are found at this image scale and sized up: 9x faster than at full size, with the
#: same mean IoU within 0.01 on the DTU scans (the masks' outline is GrabCut's, at full size).
TABLE_SCALE = 0.5
NCC_WINDOW, NCC_AGREE = 5, 0.7
#: A pixel is table (sure background) when TABLE_VOTES of TABLE_NEIGHBOURS views agree with it
#: through the plane.
TABLE_NEIGHBOURS, TABLE_VOTES, TABLE_TEXTURE = 4, 3, 3.0
#: No table unless the best plane maps at least this share of the textured pixels onto their
#: neighbours' colours (else the plane would only cut the object's underside off); measured on
#: the DTU tables (white, brown wood): 0.10 to 0.23.
MIN_AGREEMENT = 0.05
#: Share of the views that may call a hull voxel outside (the confidence's hull).
HULL_VOTE = 0.8
#: Masks whose confidence is under this are cut again with the hull of all masks as probable
#: object. The hull of a frontal ring of views reaches far behind the object: at 0.9 it put the
#: table behind DTU 69's figures into its masks (mean IoU 0.78 vs 0.83 without the second cut);
#: at 0.75 it restores DTU 65's skull top (worst IoU 0.58 -> 0.82) and costs DTU 69 0.016.
REDO_BELOW = 0.75
#: Masks that cover more than this share of their photo lose confidence (coverage_trust): masks
#: of the whole room agree with each other as well as good ones do.
FULL_FRAME = 0.75
MASKS_FILE = "masks.json"


@dataclass
class AutoMasks:
    """Automatic masks and how far to trust them.

    Attributes:
        masks: per view (H, W) bool (True = object), in the raw images' pixels.
        confidence: (N_v,) IoU of each mask with the splat of the voting hull of all masks, times
            :func:`coverage_trust` (a mask over most of its photo is not trusted).
        plane: (4,) table plane (n_x, n_y, n_z, d), n.X + d = 0, n towards the cameras; None if
            no plane under the points has every camera on its side, or none reaches past the
            object to the frame (:mod:`.support`).
        ambiguous: a plane that may be the support or a flat face of the object was kept as
            object; the confidence is lowered by ``support.AMBIGUOUS_TRUST``.
    """

    masks: list[np.ndarray]
    confidence: np.ndarray
    plane: np.ndarray | None
    ambiguous: bool = False


def _uint8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float [0, 1] or uint8 -> contiguous uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = to_uint8(image)
    return np.ascontiguousarray(image[..., :3])


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _seen_pixels(camera: Camera, X: np.ndarray, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The pixels (M, 2) (column, row) of the raw (distorted) image that the world points X (N, 3)
    in front of the camera and in its image (``Camera.in_image`` with ``margin``) fall on, and
    those points' depths (M,) along z."""
    uv, depth = camera.project_depth(X, distort=True)
    seen = (depth > 0) & camera.in_image(uv, margin)
    return camera.pixel_index(uv[seen]), depth[seen]


# ------------------------------------------------------------------------------------ table plane
def plane_points(camera: Camera, plane: np.ndarray) -> np.ndarray:
    """(H*W, 3) world point each pixel's ray meets the plane (n, d) at, row-major.

    A ray parallel to the plane or meeting it behind the camera gets a point far along the ray
    (the background at infinity), so a remote backdrop is tested like a plane too.
    """
    n, d = plane[:3], plane[3]
    pixels = camera.pixel_centers(np.float64)  # of the raw image: undistorted before the pinhole's rays
    if camera.dist is not None:
        pixels = cv2.undistortPoints(pixels[:, None], camera.K, camera.dist, P=camera.K).reshape(-1, 2)
    _, rays = camera.pixel_rays(pixels)
    along = rays @ n
    s = -(n @ camera.center + d) / np.where(np.abs(along) > 1e-12, along, 1e-12)
    s = np.where(s > 0, s, 1e3 * np.linalg.norm(camera.center))
    return camera.center + s[:, None] * rays


def _local_stats(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) mean and standard deviation of ``grey`` (H, W) float32 over NCC_WINDOW^2 patches."""
    box = (NCC_WINDOW, NCC_WINDOW)
    mean = cv2.blur(grey, box)
    return mean, np.sqrt(np.maximum(cv2.blur(grey * grey, box) - mean * mean, 0.0))


def plane_agreement(
    grey: np.ndarray, camera: Camera, others: list[tuple[np.ndarray, Camera]], plane: np.ndarray
) -> np.ndarray:
    """(H, W) how many of the ``others`` (grey image (h, w) float32, camera) see, through the
    plane (n, d), the patch that ``grey`` (H, W) float32 sees around each pixel: normalised
    cross-correlation of NCC_WINDOW^2 patches above NCC_AGREE (so a change of exposure or
    shading between the views does not matter). Pixels a view does not see do not agree."""
    H, W = grey.shape
    X = plane_points(camera, plane)
    mean, std = _local_stats(grey)
    box = (NCC_WINDOW, NCC_WINDOW)
    count = np.zeros((H, W), np.int32)
    for other, cam in others:
        uv = cam.project(X, distort=True).astype(np.float32).reshape(H, W, 2)
        warped = cv2.remap(other, uv[..., 0], uv[..., 1], cv2.INTER_LINEAR, borderValue=-1e3)
        mean_o, std_o = _local_stats(warped)
        ncc = (cv2.blur(grey * warped, box) - mean * mean_o) / np.maximum(std * std_o, 1e-3)
        count += ncc > NCC_AGREE
    return count


def _fibonacci_cap(n: int, axis: np.ndarray, max_angle_deg: float) -> np.ndarray:
    """(M, 3) unit vectors spread evenly over the hemisphere around ``axis``, within the angle."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1 - i / n)
    azimuth = np.pi * (1 + 5**0.5) * i
    dirs = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], -1)
    axis = axis / np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    x = np.cross(axis, helper)
    x /= np.linalg.norm(x)
    basis = np.stack([x, np.cross(axis, x), axis], 1)
    return dirs[polar <= np.radians(max_angle_deg)] @ basis.T


def _score_views(images: list[np.ndarray], cameras: list[Camera]) -> list[tuple]:
    """The SCORE_VIEWS views the plane tests look at, at SCORE_SCALE: per view (grey (h, w)
    float32, its camera, [(grey, camera) of its 2nd and 3rd nearest views], textured (h, w) bool).
    The nearest view has too little parallax to reject an object."""
    centres = np.array([c.center for c in cameras])
    small = [
        cv2.cvtColor(
            cv2.resize(im, None, fx=SCORE_SCALE, fy=SCORE_SCALE, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
        ).astype(np.float32)
        for im in images
    ]
    h, w = small[0].shape[:2]
    scams = [c.resized(w, h) for c in cameras]
    views = []
    for i in np.linspace(0, len(cameras) - 1, min(SCORE_VIEWS, len(cameras))).astype(int):
        near = np.argsort(np.linalg.norm(centres - centres[i], axis=1))[2:4]
        views.append((small[i], scams[i], [(small[j], scams[j]) for j in near], _local_stats(small[i])[1] > TEXTURE))
    return views


def _agreeing(view: tuple, plane: np.ndarray) -> np.ndarray:
    """(h, w) bool: the textured pixels of a score view that all its neighbours see the same through the plane."""
    grey, cam, others, textured = view
    return (plane_agreement(grey, cam, others, plane) == len(others)) & textured


def table_plane(
    images: list[np.ndarray], cameras: list[Camera], points: np.ndarray, rng: np.random.Generator | None = None
) -> np.ndarray | None:
    """The plane the object rests on (see the module docstring, step 1).

    Args:
        images: per view (H, W, 3) uint8; cameras: per view camera; points: (P, 3) object points.
    Returns:
        (4,) plane (n, d) with n.X + d = 0 and the cameras on the side n points to; None when no
        candidate plane below the points has all cameras above it.
    """
    rng = rng or np.random.default_rng(0)
    centres = np.array([c.center for c in cameras])
    views = _score_views(images, cameras)

    def under_points(n: np.ndarray) -> np.ndarray | None:
        heights = points @ n
        if not np.all(centres @ n > np.percentile(heights, 99)):  # cameras above the object
            return None
        return np.append(n, -np.percentile(heights, TABLE_PERCENTILE))

    def score(plane: np.ndarray) -> int:
        return sum(int(np.count_nonzero(_agreeing(view, plane))) for view in views)

    best, best_score = None, -1
    for n in _fibonacci_cap(N_NORMALS, centres.mean(0) - np.median(points, 0), MAX_TILT_DEG):
        plane = under_points(n)
        if plane is not None and (s := score(plane)) > best_score:
            best, best_score = plane, s
    textured = sum(int(v[3].sum()) for v in views)
    if best is None or best_score < MIN_AGREEMENT * textured:
        return None
    for step in (0.05, 0.02):  # local search around the best normal
        for _ in range(20):
            n = best[:3] + step * rng.normal(size=3)
            plane = under_points(n / np.linalg.norm(n))
            if plane is not None and (s := score(plane)) > best_score:
                best, best_score = plane, s
    return best


def table_reach(images: list[np.ndarray], cameras: list[Camera], points: np.ndarray, plane: np.ndarray) -> float | None:
    """:func:`.support.reach_share` of a table plane over the score views: its agreeing pixels
    against the object ``points`` (P, 3), so that a plinth's textured top, bounded by the object's
    own outline, is not taken for the table."""
    votes = []
    for view in _score_views(images, cameras):
        cam = view[1]
        rows, cols = np.nonzero(_agreeing(view, plane))
        votes.append(
            reaches_past(
                np.stack([cols, rows], 1).astype(np.float64), _seen_pixels(cam, points)[0], cam.width, cam.height
            )
        )
    return reach_share(votes)


# ------------------------------------------------------------------------------ masks per view
def occupancy(
    points: np.ndarray, bbox: np.ndarray, resolution: int = RESOLUTION
) -> tuple[np.ndarray, np.ndarray, float]:
    """Voxel grid of the cells holding points.

    Args:
        points: (P, 3); bbox: (2, 3) box of the grid; resolution: cells along its longest side.
    Returns:
        grid (X, Y, Z) bool, its corner lo (3,), the cell side.
    """
    lo, hi = np.asarray(bbox, dtype=np.float64)
    side = float((hi - lo).max()) / resolution
    shape = np.ceil((hi - lo) / side).astype(int)
    grid = np.zeros(shape, bool)
    idx = np.floor((points - lo) / side).astype(int)
    idx = idx[np.all((idx >= 0) & (idx < shape), axis=1)]
    grid[tuple(idx.T)] = True
    return grid, lo, side


def convex_cells(grid: np.ndarray, lo: np.ndarray, side: float, points: np.ndarray) -> np.ndarray:
    """(X, Y, Z) bool: the grid's cells whose centre lies in the convex hull of ``points`` (P, 3),
    or that hold points. Sparse points miss textureless parts (a skull's smooth top, an
    underside the cameras barely see); their convex hull does not."""
    inside = grid.copy()
    try:
        hull = Delaunay(points)
    except QhullError:  # flat or degenerate point set: the occupied cells alone
        return inside
    idx = np.argwhere(np.ones(grid.shape, bool))
    inside[tuple(idx.T)] |= hull.find_simplex(lo + (idx + 0.5) * side) >= 0
    return inside


def cell_centres(grid: np.ndarray, lo: np.ndarray, side: float) -> np.ndarray:
    """(V, 3) centres of the grid's True cells."""
    return lo + (np.argwhere(grid) + 0.5) * side


def splat(camera: Camera, centres: np.ndarray, side: float) -> tuple[np.ndarray, int]:
    """(H, W) bool silhouette of cells (V, 3) of size ``side``: their projected centres, dilated
    by a cell's projected half-diagonal at the median depth (which closes the gaps between them);
    and that dilation radius in pixels (the silhouette's uncertainty)."""
    mask = np.zeros((camera.height, camera.width), np.uint8)
    ij, depth = _seen_pixels(camera, centres)
    if not len(ij):
        return mask > 0, 0
    mask[ij[:, 1], ij[:, 0]] = 1
    r = int(np.ceil(0.87 * side * camera.K[0, 0] / np.median(depth)))
    return cv2.dilate(mask, _disk(r)) > 0, r


def _grabcut(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """GrabCut from a (H, W) uint8 label map (cv2.GC_*); returns the (H, W) bool foreground.

    Its colour models are first learned from the sure pixels alone (GC_BGD, GC_FGD) and held for
    the first cut; the later iterations learn them from the cut, as GrabCut does. Learned from
    the probable labels too (OpenCV's own start), the band of table around the object taught the
    object model the table's colour (DTU 69), and the skull's top without points, probable
    background, taught the background model the skull's (DTU 65). Too few sure pixels of either
    kind (MIN_SURE_PIXELS, MIN_SURE_SHARE): OpenCV's own start."""
    labels = labels.copy()
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if not fg.any() or fg.all():
        return fg
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    sure_bg, sure_fg = image[labels == cv2.GC_BGD], image[labels == cv2.GC_FGD]
    background_side = np.count_nonzero((labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD))
    if min(len(sure_bg), len(sure_fg)) < MIN_SURE_PIXELS or len(sure_bg) < MIN_SURE_SHARE * background_side:
        cv2.grabCut(image, labels, None, bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    else:
        # The models of the sure pixels: GrabCut's own initialisation (no iteration) on one row of them.
        row = np.concatenate([sure_bg, sure_fg])[None]
        row_labels = np.repeat(np.array([cv2.GC_BGD, cv2.GC_FGD], np.uint8), [len(sure_bg), len(sure_fg)])[None]
        cv2.grabCut(row, row_labels, None, bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)
        cv2.grabCut(image, labels, None, bgd, fgd, 1, cv2.GC_EVAL_FREEZE_MODEL)
        cv2.grabCut(image, labels, None, bgd, fgd, GRABCUT_ITERATIONS - 1, cv2.GC_EVAL)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def table_pixels(view: int, greys: list[np.ndarray], cameras: list[Camera], plane: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of view ``view`` that see the table: textured patches that at least
    TABLE_VOTES of its TABLE_NEIGHBOURS neighbours (the 2nd to 5th nearest cameras; the nearest
    has too little parallax to tell a low object part from the table) see the same through the
    plane, and not through the plane raised by MIN_HEIGHT (on DTU 24 at 200x150, without that
    test the grey base plate the building stands on was called table: mean IoU 0.95-0.98 over ten
    SfM runs, min 0.78; with it 0.96-0.98, min 0.90). An untextured patch (a white skull over a
    white spot) is never called table.

    greys: per view (H, W) float32 grey images; plane: (4,) as from :func:`table_plane`.
    """
    centres = np.array([c.center for c in cameras])
    near = np.argsort(np.linalg.norm(centres - centres[view], axis=1))[2 : 2 + TABLE_NEIGHBOURS]
    grey = greys[view]
    others = [(greys[j], cameras[j]) for j in near]
    votes = min(TABLE_VOTES, len(near))
    table = (plane_agreement(grey, cameras[view], others, plane) >= votes) & (_local_stats(grey)[1] > TABLE_TEXTURE)
    # ... and not the same through the plane raised by MIN_HEIGHT: what the views cannot tell from
    # an object part that low (too little parallax, too coarse an image) is not sure background.
    raised = plane - np.array([0, 0, 0, MIN_HEIGHT])
    return table & (plane_agreement(grey, cameras[view], others, raised) < votes)


def view_labels(
    camera: Camera, near: np.ndarray, far: np.ndarray, side: float, points: np.ndarray, table: np.ndarray | None = None
) -> np.ndarray:
    """(H, W) GrabCut labels of one view: sure background outside the splat of the ``far`` cells
    and on the ``table`` pixels ((H, W) bool, optional), probable object inside the ``near``
    cells' splat, sure object at the projected ``points``."""
    labels = np.full((camera.height, camera.width), cv2.GC_BGD, np.uint8)
    labels[splat(camera, far, side)[0]] = cv2.GC_PR_BGD
    if table is not None:
        labels[table] = cv2.GC_BGD
    labels[splat(camera, near, side)[0]] = cv2.GC_PR_FGD
    ij = _seen_pixels(camera, points, margin=0.5)[0]  # the sure object within [0, W - 1] x [0, H - 1]
    labels[ij[:, 1], ij[:, 0]] = cv2.GC_FGD
    return labels


def mask_confidence(cameras: list[Camera], masks: list[np.ndarray], hull: np.ndarray, side: float) -> np.ndarray:
    """(N_v,) agreement of each mask with the splat of the ``hull`` cells (K, 3) of size ``side``
    (the cells the masks' voting visual hull keeps): their IoU, counted outside the band of the splat's own
    uncertainty (its dilation radius on either side of its outline)."""
    scores = []
    for camera, mask in zip(cameras, masks):
        splatted, r = splat(camera, hull, side)
        sure = ~(cv2.dilate(splatted.astype(np.uint8), _disk(r)) > 0) | (
            cv2.erode(splatted.astype(np.uint8), _disk(2 * r)) > 0
        )
        union = ((splatted | mask) & sure).sum()
        scores.append(float((splatted & mask & sure).sum() / union) if union else 0.0)
    return np.array(scores)


def coverage_trust(masks: list[np.ndarray]) -> np.ndarray:
    """(N_v,) factor in [0, 1] on each mask's confidence: 1 up to FULL_FRAME of its frame covered,
    falling linearly to 0 at the whole frame. A mask over most of its photo has taken the
    background in (the room around a hung object), however well the masks agree with each other."""
    cover = np.array([m.mean() for m in masks])
    return np.clip((1.0 - cover) / (1.0 - FULL_FRAME), 0.0, 1.0)


def auto_masks(
    images: list[np.ndarray],
    cameras: list[Camera],
    points: np.ndarray,
    bbox: np.ndarray | None = None,
    progress=None,
    support: np.ndarray | None = None,
    ambiguous: bool = False,
) -> AutoMasks:
    """Object masks for calibrated photos from their sparse object points (module docstring).

    Args:
        images: per view (H, W, 3) float in [0, 1] or uint8 RGB (raw, as photographed).
        cameras: per view camera (world frame; ``dist`` is applied, masks match the raw images).
        points: (P, 3) object points (e.g. SfM points kept by calib.frame.object_points), world
            frame with the object's radius about 1 (as calib.frame makes it).
        bbox: (2, 3) world box of the object; default: the points' box.
        progress: optional callable(stage, done, total) with stage 'table', 'grabcut', 'hull'.
        support: (4,) a plane found in the sparse points that the object stands or hangs on
            (calib.frame.support_plane: a wall behind it), used as the table when the photos
            show none.
        ambiguous: the caller kept a plane that may be the support as object (calib.frame):
            the masks' confidence is lowered as for an ambiguous table.
    Returns:
        :class:`AutoMasks`.
    """
    report = progress or (lambda stage, done, total: None)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(points) < 3:
        raise DvrError(f"{len(points)} object points: automatic masks need the sparse points of the object")
    images = [_uint8(im) for im in images]
    n = len(images)
    plane = table_plane(images, cameras, points)
    if plane is not None:  # a table hides nothing of the object; a plinth's top has the plinth under it
        beyond = float(np.mean(points @ plane[:3] + plane[3] < -BEYOND_DEPTH))
        kind = verdict(table_reach(images, cameras, points, plane), beyond)
        ambiguous |= kind == "ambiguous"
        plane = plane if kind == "support" else None
    if plane is None and support is not None:
        plane = np.asarray(support, dtype=np.float64)
    if plane is not None:
        above = points @ plane[:3] + plane[3] > MIN_HEIGHT
        points = points[above] if above.sum() >= 3 else points
    report("table", 1, 1)

    lo, hi = (points.min(0), points.max(0)) if bbox is None else np.asarray(bbox, dtype=np.float64)
    pad = BOX_PAD * (hi - lo)
    grid, corner, side = occupancy(points, np.stack([lo - pad, hi + pad]))
    above = np.ones(grid.shape, bool)  # the object rests on the table: nothing of it lies under the plane
    if plane is not None:
        above = (cell_centres(above, corner, side) @ plane[:3] + plane[3] > -0.5 * side).reshape(grid.shape)
    convex = convex_cells(grid, corner, side, points)
    near = ndimage.binary_dilation(grid, iterations=NEAR) & above
    wide = ndimage.binary_dilation(convex, iterations=FAR_NO_TABLE) & above
    far = wide if plane is None else ndimage.binary_dilation(convex, iterations=FAR) & above
    greys = [
        cv2.resize(
            cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32),
            None,
            fx=TABLE_SCALE,
            fy=TABLE_SCALE,
            interpolation=cv2.INTER_AREA,
        )
        for im in images
    ]
    small_cameras = [c.resized(g.shape[1], g.shape[0]) for c, g in zip(cameras, greys)]
    tables = [None] * n

    def one_view(k: int, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        # GrabCut's k-means draws from OpenCV's per-thread generator: seed it per view so the
        # masks do not depend on which thread cuts which view.
        cv2.setRNGSeed(k)
        if plane is not None and tables[k] is None:
            H, W = images[k].shape[:2]
            table = table_pixels(k, greys, small_cameras, plane).astype(np.uint8)
            tables[k] = cv2.resize(table, (W, H), interpolation=cv2.INTER_NEAREST) > 0
        return _grabcut(images[k], view_labels(cameras[k], near, far, side, points, tables[k]))

    # OpenCV releases the GIL: one GrabCut per core at a time.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        masks = []
        first = pool.map(
            one_view, range(n), [cell_centres(near, corner, side)] * n, [cell_centres(far, corner, side)] * n
        )
        for k, mask in enumerate(first):
            masks.append(mask)
            report("grabcut", k + 1, n)
        # What the other views' masks agree on (the hull) may reach past ``far`` where no point
        # is (a skull's textureless top): the views that disagree with the hull are cut again
        # with that part of the hull as probable object.
        hull = wide.copy()
        hull[wide] = visual_hull(cameras, masks, cell_centres(wide, corner, side), radius=0.5 * side, vote=HULL_VOTE)
        hull_cells = cell_centres(hull, corner, side)
        confidence = mask_confidence(cameras, masks, hull_cells, side)
        redo = np.flatnonzero(confidence < REDO_BELOW)
        near_redo, far_redo = cell_centres(near | (hull & ~far), corner, side), cell_centres(far, corner, side)
        for k, mask in zip(redo, pool.map(one_view, redo, [near_redo] * len(redo), [far_redo] * len(redo))):
            masks[k] = mask
    confidence[redo] = mask_confidence([cameras[k] for k in redo], [masks[k] for k in redo], hull_cells, side)
    confidence *= coverage_trust(masks) * (AMBIGUOUS_TRUST if ambiguous else 1.0)
    report("hull", 1, 1)
    return AutoMasks(masks, confidence, plane, ambiguous)


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


def write_confidence(scene_dir: str | Path, names: list[str], confidence: np.ndarray, method: str = "auto") -> Path:
    """Write ``masks.json`` into the scene folder: {"method": method, "confidence": {image name: value}}
    ('auto': these masks; 'separated': the object's silhouettes from a fit, dvr_cli.mesh.separate)."""
    path = Path(scene_dir) / MASKS_FILE
    write_json(path, {"method": method, "confidence": {name: round(float(c), 4) for name, c in zip(names, confidence)}})
    return path


def read_confidence(scene_dir: str | Path) -> dict[str, float]:
    """{image name without extension: confidence} from the scene folder's ``masks.json`` ({} where
    there is none): the scene's images are PNGs named after the photos' stems."""
    path = Path(scene_dir) / MASKS_FILE
    if not path.is_file():
        return {}
    data = read_json(path).get("confidence")
    if not isinstance(data, dict):
        raise DvrError("expected a 'confidence' object {image name: value}", path)
    return {Path(str(k)).stem: float(v) for k, v in data.items()}
