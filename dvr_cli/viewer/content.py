"""What the viewer shows (:class:`Content`), gathered from the library's objects: a scene (its
views and, for a photos-only calibration, its sparse points) or a fitted run (its views, held-out
scores and surface), and the small image helpers of its panels."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import numpy as np
import trimesh

from ..calib.pipeline import read_sparse_points
from ..files import read_trimesh, to_uint8
from ..mesh.color import field_colors, field_device
from ..mesh.mise import extract_surface
from ..mesh.separate import saved_region
from ..run import Run
from ..scene.images import fit_within, resize_image, resize_mask
from ..scene.types import Normalization, Scene, View

#: Cells per axis of the surface extracted for display (a run without an exported mesh, a fit).
SURFACE_RESOLUTION = 64


@dataclass
class Content:
    """What the viewer shows, in world units as loaded (converted to the unit frame when drawn).

    views: every view (camera, photo, mask or None); holdout: indices of held-out views;
    scores: view name -> its metrics (eval.json's per-view record); points (P, 3) / point_colors
    (P, 3) uint8: sparse SfM points; mesh: a surface already in the unit frame.
    """

    views: list[View]
    normalization: Normalization
    holdout: list[int] = dataclass_field(default_factory=list)
    scores: dict[str, dict] = dataclass_field(default_factory=dict)
    points: np.ndarray | None = None
    point_colors: np.ndarray | None = None
    mesh: trimesh.Trimesh | None = None


def sparse_points(scene: Scene) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The SfM points `dvr calibrate` wrote beside the scene's cams.json, if any: (P, 3), (P, 3) uint8."""
    found = read_sparse_points(Path(scene.source).parent) if scene.source is not None else None
    return found if found is not None else (None, None)


def scene_content(scene: Scene) -> Content:
    """A scene's views and, for a photos-only calibration, its sparse points."""
    points, colors = sparse_points(scene)
    return Content(scene.views, scene.normalization, points=points, point_colors=colors)


def field_surface(field, occ_grid, tau: float, resolution: int = SURFACE_RESOLUTION) -> trimesh.Trimesh | None:
    """The field's surface (unit frame, inside the occupancy grid) with vertex colours; None if empty."""
    logit_fn = field.occupancy_logits if occ_grid is None else occ_grid.masked(field.occupancy_logits)
    verts, faces, _ = extract_surface(
        logit_fn, resolution=resolution, start=min(32, resolution), tau=tau, device=field_device(field)
    )
    if len(faces) == 0:
        return None
    return trimesh.Trimesh(verts, faces, vertex_colors=to_uint8(field_colors(field, verts)), process=False)


def run_surface(run: Run) -> trimesh.Trimesh | None:
    """The run's exported mesh (``Run.exported_mesh``) moved into the unit frame, else a
    low-resolution surface of the field, cut to the object where the run holds its region
    (RUN/object.npz: `dvr export` or `dvr separate` of a run fitted without masks)."""
    path = run.exported_mesh()
    if path is None:
        surface = field_surface(run.field, run.occ_grid, run.cfg.rendering.tau)
        region = saved_region(run)
        if surface is None or region is None:
            return surface
        keep = region.contains(surface.vertices)[surface.faces].all(axis=1)
        return surface.submesh([np.flatnonzero(keep)], append=True) if keep.any() else surface
    mesh = read_trimesh(path, force="mesh")
    mesh.apply_translation(-run.normalization.center)
    mesh.apply_scale(1.0 / run.normalization.scale)
    return mesh


def run_content(run: Run) -> Content:
    """A fitted run: its scene's views, held-out views with eval.json's scores (when `dvr eval`
    or `dvr fit --holdout` wrote them), its surface."""
    scene = run.scene()
    points, colors = sparse_points(scene)
    return Content(
        scene.views, run.normalization, list(run.holdout), run.view_scores(), points, colors, run_surface(run)
    )


def thumbnail(image: np.ndarray, long_side: int) -> np.ndarray:
    """(H, W, 3) float [0, 1] -> uint8 with its longer side at most ``long_side`` pixels."""
    return to_uint8(resize_image(image, *fit_within(image.shape[1], image.shape[0], long_side)))


def mask_overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) photo with the object mask shown: background darkened, object tinted green."""
    tint = np.where(mask[..., None], 0.6 * image + 0.4 * np.array([0.1, 0.9, 0.2]), 0.35 * image)
    return tint.astype(np.float32)


def small_view(view: View, normalization: Normalization, long_side: int) -> View:
    """The view shrunk to ``long_side`` pixels, its camera in the unit frame (for quick scores)."""
    w, h = fit_within(view.image.shape[1], view.image.shape[0], long_side)
    mask = None if view.mask is None else resize_mask(view.mask, w, h)
    camera = normalization.camera_to_unit(view.camera).resized(w, h)
    return View(camera, resize_image(view.image, w, h), mask, image_path=view.image_path)
