"""The object apart from its table, floor and wall, from a fit without masks.

A fit without masks models whatever the photos show inside the unit cube: the object and the
table it stands on, the wall behind it. From the fit's depth maps (every training view rendered
at SEPARATION_SIZE pixels, each hit a surface point in the unit frame):

1. Supports. RANSAC finds the plane holding most of the points (within PLANE_TOL); it is a
   support when it has the cameras in front, almost none of the other points behind it, and
   reaches past them (the nearer half to the cameras' common focus) in at least half of the
   views (:mod:`dvr_cli.calib.support`: a plinth's flat top does not). The support and all
   that lies beyond it, as seen from the cameras, go; up to MAX_PLANES planes (a table and a wall).
2. The object. What is left fills a voxel grid of GRID cells per side of the cube; of its
   connected parts (26-neighbours) the object is the one nearest the cameras' common focus.
3. The region. The object's cells grown by GROW cells, on the object's side of every support
   (:class:`ObjectRegion`, saved as RUN/object.npz, docs/formats.md).

A view's mask is the object's rendered silhouette: the pixels whose surface point lies in the
region; its confidence is the mask's IoU with the region's cells projected into that view.
Nothing is separated (None, with the reason) when no plane is a support, or when what is left
reaches the cube's faces on most sides (the object fills the region).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from ..calib.automask import cell_centres, mask_confidence
from ..calib.frame import common_focus, fitted_plane, plane_through
from ..calib.support import points_reach, verdict
from ..errors import DvrError
from ..files import atomic_path
from ..model import DVRModel
from ..run import Run
from ..scene.camera import Camera

#: Longest side of the views rendered for the separation (pixels), and their marching samples (a
#: quarter of the default render's: the separation needs where the surface is, to a grid cell).
SEPARATION_SIZE, SEPARATION_SAMPLES = 80, 64
#: RANSAC: trials per plane; inlier distance (unit cube half-side 1); the least share of the
#: points a support holds; how many planes are tried.
PLANE_TRIALS, PLANE_TOL, MIN_PLANE_SHARE, MAX_PLANES = 300, 0.02, 0.08, 3
#: Points within SUPPORT_MARGIN of a support (or beyond it) are the support's; a support has at
#: most the share MAX_BEHIND of the object's evidence (below) more than BEHIND_DEPTH beyond it.
SUPPORT_MARGIN, MAX_BEHIND, BEHIND_DEPTH = 0.03, 0.1, 0.05
#: Occupancy grid over the cube [-1, 1]^3: cells per side; cells the object's part is grown by.
GRID, GROW = 64, 2
#: Cells per side of the grid a region from masks (their visual hull) is carved in.
HULL_GRID = 128
#: The object fills the region when its cells reach the cube's faces on FILLS_FACES of the six sides.
FILLS_FACES = 5
OBJECT_FILE = "object.npz"
#: A derived mask's label is uncertain within this many low-resolution pixels of its outline.
OUTLINE_BAND = 1


@dataclass
class ObjectRegion:
    """The object's 3D region in the unit frame: cells of a grid and the supports' planes.

    Attributes:
        cells: (G, G, G) bool, the object's cells of the grid over [-1, 1]^3 (cell side 2 / G).
        planes: (K, 3 + 1) supports (n, d), n.X + d = 0, unit n towards the object; K may be 0.
        iteration: the fit's iteration it was separated from (-1: not from a run).
    """

    cells: np.ndarray
    planes: np.ndarray
    iteration: int = -1

    @property
    def side(self) -> float:
        return 2.0 / self.cells.shape[0]

    def contains(self, X: np.ndarray) -> np.ndarray:
        """(N,) bool: unit-frame points X (N, 3) in an object cell and on the object's side of
        every support (beyond SUPPORT_MARGIN)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, 3)
        idx = np.floor((X + 1.0) / self.side).astype(int)
        inside = np.all((idx >= 0) & (idx < self.cells.shape[0]), axis=1)
        keep = np.zeros(len(X), bool)
        keep[inside] = self.cells[tuple(idx[inside].T)]
        for plane in self.planes:
            keep &= X @ plane[:3] + plane[3] > SUPPORT_MARGIN
        return keep

    def centres(self) -> np.ndarray:
        """(V, 3) unit-frame centres of the object's cells."""
        return cell_centres(self.cells, -np.ones(3), self.side)

    def save(self, path: str | Path) -> Path:
        """Write the region to ``path`` (.npz; atomic, and never over a file dvr did not write)."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                cells=np.packbits(self.cells),
                grid=np.int64(self.cells.shape[0]),
                planes=self.planes,
                iteration=np.int64(self.iteration),
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ObjectRegion:
        try:
            with np.load(path) as data:
                g = int(data["grid"])
                cells = np.unpackbits(data["cells"])[: g**3].reshape(g, g, g).astype(bool)
                return cls(cells, np.asarray(data["planes"], dtype=np.float64).reshape(-1, 4), int(data["iteration"]))
        except (OSError, KeyError, ValueError) as error:
            raise DvrError(f"not an object region ({error})", path) from None


def hull_region(cameras_unit: list[Camera], masks: list[np.ndarray]) -> ObjectRegion | None:
    """The region of the masks' visual hull: the cells of a HULL_GRID grid over [-1, 1]^3 whose
    centre falls in the mask (H, W) bool of every unit-frame camera whose image it falls on, grown
    by one cell; None when the hull is empty."""
    side = 2.0 / HULL_GRID
    centres = cell_centres(np.ones((HULL_GRID,) * 3, bool), -np.ones(3), side)
    keep = np.ones(len(centres), bool)
    for camera, mask in zip(cameras_unit, masks):
        uv, depth = camera.project_depth(centres)
        seen = (depth > 0) & camera.in_image(uv)
        i, j = camera.pixel_index(uv[seen]).T
        keep[np.flatnonzero(seen)[~mask[j, i]]] = False
    if not keep.any():
        return None
    cells = ndimage.binary_dilation(keep.reshape((HULL_GRID,) * 3))
    return ObjectRegion(cells, np.zeros((0, 4)))


@dataclass
class Separation:
    """What :func:`separate_points` found: the region (None when nothing separates) and why not."""

    region: ObjectRegion | None
    reason: str = ""


def _ransac_plane(points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(4,) plane (n, d) through PLANE_TRIALS random triples of ``points`` (P, 3) with most points
    within PLANE_TOL, refitted to them by least squares; and its inliers (P,) bool."""
    best, best_count = None, -1
    for triple in rng.integers(0, len(points), (PLANE_TRIALS, 3)):
        plane = plane_through(*points[triple])
        if plane is None:
            continue
        count = int(np.count_nonzero(np.abs(points @ plane[:3] + plane[3]) < PLANE_TOL))
        if count > best_count:
            best, best_count = plane, count
    plane = fitted_plane(points[np.abs(points @ best[:3] + best[3]) < PLANE_TOL])
    return plane, np.abs(points @ plane[:3] + plane[3]) < PLANE_TOL


def find_supports(points: np.ndarray, cameras: list[Camera], seed: int = 0) -> list[np.ndarray]:
    """The support planes (4,) (n towards the cameras) among surface points (P, 3), unit frame:
    step 1 of the module docstring."""
    rng = np.random.default_rng(seed)
    centres = np.array([c.center for c in cameras])
    focus = common_focus(cameras)
    candidates, supports = points, []
    for _ in range(MAX_PLANES):
        if len(candidates) < max(3, MIN_PLANE_SHARE * len(points)):
            break
        plane, on = _ransac_plane(candidates, rng)
        if on.sum() < MIN_PLANE_SHARE * len(points):
            break
        if np.median(centres @ plane[:3]) + plane[3] < 0:
            plane = -plane
        rest = candidates[~on]
        # the object's evidence: the nearer half of the other points to the focus (not a wall
        # that fills the frame, which would leave no view able to tell)
        dist = np.linalg.norm(rest - focus, axis=1)
        near = rest[dist <= np.median(dist)] if len(rest) else rest
        # the cameras in front, and next to nothing of the object behind it (a plane through it is no support)
        front = np.all(centres @ plane[:3] + plane[3] > 0)
        front &= np.mean(near @ plane[:3] + plane[3] < -BEHIND_DEPTH) <= MAX_BEHIND if len(near) else True
        if front and verdict(points_reach(candidates[on], near, cameras)) == "support":
            supports.append(plane)
            rest = rest[rest @ plane[:3] + plane[3] > SUPPORT_MARGIN]
        candidates = rest
    return supports


def separate_points(points: np.ndarray, cameras: list[Camera], seed: int = 0) -> Separation:
    """The object's region among a fit's surface points (P, 3) seen by ``cameras``, unit frame
    (module docstring, steps 1-3)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    supports = find_supports(points, cameras, seed)
    if not supports:
        return Separation(None, "no table, floor or wall found")
    keep = np.ones(len(points), bool)
    for plane in supports:
        keep &= points @ plane[:3] + plane[3] > SUPPORT_MARGIN
    side = 2.0 / GRID
    idx = np.clip(np.floor((points[keep] + 1.0) / side).astype(int), 0, GRID - 1)
    occupied = np.zeros((GRID,) * 3, bool)
    occupied[tuple(idx.T)] = True
    labels, count = ndimage.label(ndimage.binary_dilation(occupied), np.ones((3, 3, 3)))
    if count == 0:
        return Separation(None, "nothing stands on the table, floor or wall found")
    i, j, k = np.clip(np.floor((common_focus(cameras) + 1.0) / side).astype(int), 0, GRID - 1)
    nearest_cell = ndimage.distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
    nearest = labels[tuple(nearest_cell[:, i, j, k])]  # the part with the cell nearest the focus
    cells = ndimage.binary_dilation((labels == nearest) & occupied, iterations=GROW)
    touched = sum(
        cells[i].any() for i in (np.s_[0], np.s_[-1], np.s_[:, 0], np.s_[:, -1], np.s_[:, :, 0], np.s_[:, :, -1])
    )
    if touched >= FILLS_FACES:
        return Separation(None, "the object fills the region")
    return Separation(ObjectRegion(cells, np.array(supports).reshape(-1, 4)))


# ------------------------------------------------------------------------------------ from a run
def fitted_without_masks(run: Run) -> bool:
    """Whether the run was fitted without masks (none of its training views had one)."""
    return bool(run.train) and all(run.record.masks[i] is None for i in run.train)


def unit_points(run: Run, out: dict, camera: Camera) -> np.ndarray:
    """(H*W, 3) unit-frame surface points of a render (Run.render's dict) of the world ``camera``
    (the camera's centre where nothing is hit)."""
    return render_points(out["depth"] / run.normalization.scale, run.normalization.camera_to_unit(camera))


def render_points(depth: np.ndarray, camera_unit: Camera) -> np.ndarray:
    """(H*W, 3) unit-frame points o + depth w of the pixels of ``camera_unit`` (a unit-frame
    camera) at ray lengths ``depth`` (H, W), unit-frame units."""
    origins, dirs = camera_unit.pixel_rays()
    return origins + depth.reshape(-1, 1) * dirs


def shrunk(camera: Camera, size: int) -> Camera:
    """``camera`` resized so that its longest side is at most ``size`` pixels."""
    scale = min(1.0, size / max(camera.width, camera.height))
    return camera.resized(max(1, round(camera.width * scale)), max(1, round(camera.height * scale)))


def separate_renders(renders: list[dict], cameras_unit: list[Camera], seed: int = 0) -> Separation:
    """:func:`separate_points` on the hits of renders (``render_image``'s dicts: depth in unit-frame
    units, mask) of the unit-frame cameras ``cameras_unit``."""
    points = [render_points(out["depth"], c)[out["mask"].ravel()] for out, c in zip(renders, cameras_unit)]
    return separate_points(np.concatenate(points), cameras_unit, seed)


def separation_renders(model: DVRModel, cameras_unit: list[Camera]) -> tuple[list[dict], list[Camera]]:
    """The model's renders (eval mode, depth in unit-frame units, mask) of the unit-frame
    ``cameras_unit`` shrunk to SEPARATION_SIZE pixels, and those shrunk cameras."""
    small = [shrunk(camera, SEPARATION_SIZE) for camera in cameras_unit]
    was_training = model.field.training
    model.field.eval()
    renders = [model.render_camera(camera, SEPARATION_SAMPLES, background=(1.0, 1.0, 1.0)) for camera in small]
    model.field.train(was_training)
    return renders, small


def separate_run(run: Run, seed: int = 0) -> Separation:
    """:func:`separate_points` on the run's training views rendered at SEPARATION_SIZE pixels."""
    cameras = [run.normalization.camera_to_unit(run.cameras[i]) for i in run.train]
    return separate_renders(*separation_renders(run.model, cameras), seed)


def derived_mask(
    out: dict, camera_unit: Camera, region: ObjectRegion, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The object's silhouette in a low-resolution render (``render_image``'s dict: depth in
    unit-frame units, mask) of ``camera_unit``, brought to ``size`` (W, H) pixels: (H, W) bool
    mask (bilinear, then >= 1/2) and (H, W) bool known, False within OUTLINE_BAND low-resolution
    pixels of the outline (where the render's coarse pixels cannot tell)."""
    small = out["mask"] & region.contains(render_points(out["depth"], camera_unit)).reshape(out["mask"].shape)
    width, height = size
    kernel = np.ones((3, 3), np.uint8)

    def sure(m: np.ndarray) -> np.ndarray:
        eroded = cv2.erode(m.astype(np.uint8), kernel, iterations=OUTLINE_BAND, borderType=cv2.BORDER_REPLICATE)
        return cv2.resize(eroded, (width, height), interpolation=cv2.INTER_NEAREST) > 0

    mask = cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5
    return mask, sure(small) | sure(~small)


def object_masks(run: Run, region: ObjectRegion, cameras: list[Camera]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per world camera the object's rendered silhouette (H, W) bool (the pixels whose surface
    point the region contains), and (N,) confidences: each mask's IoU with the region's cells
    projected into its view (:func:`dvr_cli.calib.automask.mask_confidence`)."""
    masks = [cut_render(run, region, run.render(camera), camera)["mask"] for camera in cameras]
    unit = [run.normalization.camera_to_unit(c) for c in cameras]
    return masks, mask_confidence(unit, masks, region.centres(), region.side)


def saved_region(run: Run) -> ObjectRegion | None:
    """RUN/object.npz when it was separated from the run's current iteration, else None."""
    path = run.run_dir / OBJECT_FILE
    if path.is_file() and (saved := ObjectRegion.load(path)).iteration == run.iteration:
        return saved
    return None


def object_region(run: Run, log: Callable[[str], None] | None = None) -> ObjectRegion | None:
    """The object's region of a run fitted without masks: RUN/object.npz when it was separated
    from the run's current iteration, else separated now (and saved). None for a run fitted with
    masks (its region is the object's already), and None with one line to ``log`` when nothing
    separates: the whole region is kept, never silently dropped."""
    if not fitted_without_masks(run):
        return None
    if (saved := saved_region(run)) is not None:
        return saved
    found = separate_run(run)
    if found.region is None:
        if log:
            log(f"no object could be separated from its surroundings ({found.reason}): the whole region is kept")
        return None
    found.region.iteration = run.iteration
    found.region.save(run.run_dir / OBJECT_FILE)
    return found.region


def cut_render(run: Run, region: ObjectRegion | None, out: dict, camera: Camera) -> dict:
    """A render (Run.render's dict of world ``camera``) with its mask cut to the object's
    silhouette (the hits whose surface point the region contains); unchanged without a region."""
    if region is None:
        return out
    return {**out, "mask": out["mask"] & region.contains(unit_points(run, out, camera)).reshape(out["mask"].shape)}


def cut_mesh(verts: np.ndarray, faces: np.ndarray, region: ObjectRegion) -> tuple[np.ndarray, np.ndarray]:
    """The faces (F, 3) of a unit-frame mesh whose three vertices (V, 3) the region contains, and
    the vertices they use (re-indexed)."""
    faces = faces[region.contains(verts)[faces].all(axis=1)]
    used, faces = np.unique(faces, return_inverse=True)
    return verts[used], faces.reshape(-1, 3)


def object_surface(
    run: Run, verts: np.ndarray, faces: np.ndarray, log: Callable[[str], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A run's unit-frame surface (V, 3), (F, 3) cut to its object (:func:`object_region`, one
    line to ``log`` saying what was cut); the whole surface when no object separates, or when
    the cut would leave nothing."""
    region = object_region(run, log)
    if region is None:
        return verts, faces
    kept = cut_mesh(verts, faces, region)
    if not len(kept[1]):
        if log:
            log("the object's region holds none of the surface: the whole region is kept")
        return verts, faces
    if log:
        log(
            f"the object apart from {len(region.planes)} support plane(s): {len(kept[1])} of {len(faces)} faces "
            f"kept ({OBJECT_FILE}; --keep-surroundings keeps everything)"
        )
    return kept
