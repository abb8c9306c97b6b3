"""Surface colours from the photos themselves, projected onto the fitted surface.

Follows the view selection of Waechter, Moehrle and Goesele, "Let there be color! Large-scale
texturing of 3D reconstructions" (ECCV 2014), simplified per surface sample instead of per face:

1. Visibility: each photo's depth map is ray cast against the mesh; a surface point is seen by a
   view when it lies in front of the camera, faces it, and its depth agrees with the depth map
   at the four pixels its bilinear lookup reads (and, with masks, all four are object pixels).
2. Photo-consistency: among the views that see a point, colours far from their per-channel
   median are dropped (highlights, occluders missing from the mesh, mask errors); the paper
   does this with a mean-shift per face.
3. Selection: the remaining views are blended with weights cos(angle) * (f / z)^2: photo
   pixels per unit of surface area (facing angle, distance and focal length in one number).
   The paper picks one view per face with a graph cut and then levels the colour seams between
   views (global + Poisson). Here up to MAX_VIEWS views are averaged instead: a photo's colour
   holds the light of its own shot (DTU's lamps move with the camera, highlights move with the
   view), and the colour that best predicts a view nobody photographed is the mean over many
   views, not the sharpest one (measured, see SHARPNESS); the smooth weights also feather view
   changes, so no seam levelling is needed.
4. Points that no photo sees take the ``fallback`` colouring (the texture field).

Everything is vectorised over points (numpy) with a loop over views only.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import DvrError
from ..render.mesh import cast_camera, raycasting_scene
from ..scene.camera import Camera
from ..scene.types import View
from .texture import face_normals

#: Views seeing the surface more grazing than acos(0.1) ~ 84 deg are never used: their pixels
#: smear over a long stretch of surface and their depth test is ill-conditioned.
MIN_COS = 0.1
#: A point is visible when the depth map agrees within this many pixel footprints (z / f) per
#: unit of slope (1 / cos): neighbouring pixels see the same surface up to its tilt.
DEPTH_TOL_PX = 2.0
#: Exponent on the per-view resolution weight. Held-out masked PSNR of the photo-textured mesh
#: (3-minute fits): exponent 4 over the 8 best views 18.04 / 21.64 / 19.59 dB on DTU 65 / 69 /
#: lego; exponent 1 over 32 views 19.74 / 22.17 / 19.95 dB: the light of the few sharpest shots
#: is not the light of other views, and their average predicts those better (exponents 0.5-2
#: over 24 views scored within 0.05 dB of each other; 0, all views alike, lost 0.7 dB on DTU 65:
#: grazing views smear).
SHARPNESS = 1.0
#: Views whose colour is farther than max(OUTLIER_MIN, OUTLIER_K * median distance) from the
#: per-channel median of the views that see the point are dropped (needs >= 3 views).
OUTLIER_MIN = 0.1
OUTLIER_K = 3.0
#: Only each face's best views (by the weight at its centroid) are looked up, tested and
#: blended: the cost grows with them (DTU 65 held-out: 8 views 18.18 dB, 16 19.16, 24 19.48,
#: 32 19.74, all 42 19.85 dB at exponent 1).
MAX_VIEWS = 32
#: (view, point) pairs per batch: (pairs, 3) float32 colours stay at ~25 MB.
_PAIRS = 1 << 21


@dataclass
class Photo:
    """One photo ready to project: camera in the mesh's frame, pixels flattened row-major.

    Attributes:
        camera: pinhole camera (same frame as the mesh).
        rgb: (H * W, 3) float32 RGB.
        usable: (H * W,) bool: the pixel sees the mesh and (with a mask) the object.
        z: (H * W,) float32 depth map of the mesh (inf on a miss).
        faces_seen: (F,) bool: faces with a corner on a face that a pixel ray hits; points on
            other faces are not looked up (a cheap cull: most of the mesh is hidden or behind).
    """

    camera: Camera
    rgb: np.ndarray
    usable: np.ndarray
    z: np.ndarray
    faces_seen: np.ndarray


def prepare_photos(scene, faces: np.ndarray, n_verts: int, views: Sequence[View]) -> list[Photo]:
    """Depth maps of the mesh in ``scene`` (faces (F, 3) over ``n_verts`` vertices) from each
    view (cameras in the mesh's frame)."""
    photos = []
    for view in views:
        h, w = view.image.shape[:2]
        if (w, h) != (view.camera.width, view.camera.height):
            raise DvrError(
                f"view '{view.name}': image is {w}x{h} but its camera is {view.camera.width}x{view.camera.height}",
                view.image_path,
            )
        hits = cast_camera(scene, view.camera)
        usable = np.isfinite(hits.z) if view.mask is None else np.isfinite(hits.z) & view.mask
        corner_seen = np.zeros(n_verts, dtype=bool)
        corner_seen[faces[np.unique(hits.face[hits.face >= 0])]] = True
        photos.append(
            Photo(
                view.camera,
                np.asarray(view.image, dtype=np.float32).reshape(-1, 3),
                usable.reshape(-1),
                hits.z.reshape(-1),
                corner_seen[faces].any(axis=1),
            )
        )
    return photos


def _project(camera: Camera, points: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pixel (u, v) (N,) each, z depth (N,) and cos (N,) of the angle between the unit normals
    (N, 3) and the direction to the camera, for points (N, 3) in the camera's frame."""
    uv, z = camera.project_depth(points)
    toward = camera.center - points
    cos = np.einsum("nd,nd->n", normals, toward) / np.linalg.norm(toward, axis=1)
    return uv[:, 0], uv[:, 1], z, cos


def _log_weight(cos: np.ndarray, z: np.ndarray, focal: float) -> np.ndarray:
    """SHARPNESS * log(cos * (f / z)^2): photo pixels per unit of surface area."""
    return (SHARPNESS * (np.log(cos) + 2.0 * np.log(focal / z))).astype(np.float32)


def _in_view(camera: Camera, u: np.ndarray, v: np.ndarray, z: np.ndarray, cos: np.ndarray) -> np.ndarray:
    """In front, facing the camera within MIN_COS, and far enough inside the image (half a pixel)
    that the bilinear lookup reads only the image's pixels."""
    return (z > 0) & (cos > MIN_COS) & camera.in_image(np.stack([u, v], axis=1), margin=0.5)


def candidate_views(photos: Sequence[Photo], verts: np.ndarray, faces: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """The MAX_VIEWS best views of each face, by the weight at its centroid.

    verts (V, 3), faces (F, 3), normals (F, 3) unit outward. A view is a candidate for a face
    it sees (``Photo.faces_seen``) and faces (view_samples then tests each point). Returns
    (K, F) int32 view indices, K = min(MAX_VIEWS, len(photos)), -1 where a face has fewer.
    """
    centroids = verts[faces].mean(axis=1)
    log_w = np.full((len(photos), len(faces)), -np.inf, dtype=np.float32)
    for i, photo in enumerate(photos):
        _, _, z, cos = _project(photo.camera, centroids, normals)
        ok = photo.faces_seen & (z > 0) & (cos > 0)
        log_w[i, ok] = _log_weight(np.maximum(cos[ok], MIN_COS), z[ok], photo.camera.focal)
    k = min(MAX_VIEWS, len(photos))
    best = (
        np.argpartition(-log_w, k - 1, axis=0)[:k] if k < len(photos) else np.arange(k)[:, None].repeat(len(faces), 1)
    )
    return np.where(np.isfinite(np.take_along_axis(log_w, best, axis=0)), best, -1).astype(np.int32)


def view_samples(photo: Photo, points: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Colour of ``points`` in one photo and the log of its blending weight.

    points (N, 3), normals (N, 3) unit. Returns rgb (N, 3) float32 (bilinear at the
    projection) and log_weight (N,) float32 = SHARPNESS * log(cos * (f / z)^2), -inf where
    the view does not see the point: behind the camera, back-facing or beyond MIN_COS,
    outside the image, occluded, or read from a mask-background or mesh-less pixel.
    """
    cam = photo.camera
    u, v, z, cos = _project(cam, points, normals)
    ok = _in_view(cam, u, v, z, cos)
    # The 2x2 pixels the bilinear lookup reads (clamped so a point on the last column is inside).
    w = cam.width
    x0 = np.clip(u, 0, w - 2).astype(np.int64)
    y0 = np.clip(v, 0, cam.height - 2).astype(np.int64)
    fx, fy = (u - x0).astype(np.float32)[:, None], (v - y0).astype(np.float32)[:, None]
    focal = cam.focal
    tol = DEPTH_TOL_PX * z / focal / np.maximum(cos, MIN_COS)
    rgb = np.zeros((len(points), 3), dtype=np.float32)
    for offset, wgt in ((0, (1 - fx) * (1 - fy)), (1, fx * (1 - fy)), (w, (1 - fx) * fy), (w + 1, fx * fy)):
        pix = y0 * w + x0 + offset
        ok &= photo.usable[pix] & (np.abs(photo.z[pix] - z) <= tol)
        rgb += wgt * photo.rgb[pix]
    log_weight = np.full(len(points), -np.inf, dtype=np.float32)
    log_weight[ok] = _log_weight(cos[ok], z[ok], focal)
    return rgb, log_weight


def _lower_median(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Lower median along axis 0 of ``values`` (K, N, ...) whose unseen entries are +inf,
    ``count`` (N,) seen entries per column (>= 1)."""
    ordered = np.sort(values, axis=0)
    k = ((count - 1) // 2).reshape(1, -1, *([1] * (values.ndim - 2)))
    return np.take_along_axis(ordered, k, axis=0)[0]


def reject_outliers(rgb: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Drop views whose colour disagrees with the others.

    rgb (K, N, 3), seen (K, N) bool. Where at least 3 views see a point, keeps the views whose
    colour lies within max(OUTLIER_MIN, OUTLIER_K * median distance) of the per-channel
    (lower) median of the views that see it. Returns the new ``seen`` (K, N).
    """
    count = seen.sum(axis=0)
    test = count >= 3
    if not test.any():
        return seen
    rgb, seen_t, count = rgb[:, test], seen[:, test], count[test]
    median = _lower_median(np.where(seen_t[..., None], rgb, np.inf), count)  # (n, 3)
    dev = np.linalg.norm(rgb - median, axis=2)  # (K, n)
    typical = _lower_median(np.where(seen_t, dev, np.inf), count)
    out = seen.copy()
    out[:, test] = seen_t & (dev <= np.maximum(OUTLIER_K * typical, OUTLIER_MIN))
    return out


def photo_colors(
    photos: Sequence[Photo], candidates: np.ndarray, points: np.ndarray, normals: np.ndarray, face: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Blend of the photos at surface ``points`` (see the module docstring).

    candidates (K, F): each face's views (:func:`candidate_views`); points (P, 3), normals
    (P, 3) unit outward, face (P,) the triangle each point lies on, in the photos' frame.
    Returns rgb (P, 3) float32 (0 where no photo sees the point) and n_views (P,) int32: the
    views blended.
    """
    rgb_out = np.zeros((len(points), 3), dtype=np.float32)
    n_out = np.zeros(len(points), dtype=np.int32)
    k = len(candidates)
    step = max(1, _PAIRS // k)

    def blend(s: int) -> None:
        batch = slice(s, s + step)
        p, n = points[batch].astype(np.float32), normals[batch].astype(np.float32)
        views = candidates[:, face[batch]].ravel()  # (K * N,) slot-major
        rgb = np.zeros((k * len(p), 3), dtype=np.float32)
        log_w = np.full(k * len(p), -np.inf, dtype=np.float32)
        # Group the (slot, point) pairs by view: one vectorised lookup per photo (int16: radix sort).
        order = np.argsort(views.astype(np.int16), kind="stable")
        bounds = np.searchsorted(views[order], np.arange(len(photos) + 1))
        for i, photo in enumerate(photos):
            pairs = order[bounds[i] : bounds[i + 1]]
            if len(pairs):
                idx = pairs % len(p)
                rgb[pairs], log_w[pairs] = view_samples(photo, p[idx], n[idx])
        rgb, log_w = rgb.reshape(k, -1, 3), log_w.reshape(k, -1)
        seen = reject_outliers(rgb, np.isfinite(log_w))
        best = np.max(np.where(seen, log_w, -np.inf), axis=0)
        weight = np.where(seen, np.exp(np.where(seen, log_w - np.where(np.isfinite(best), best, 0.0), 0.0)), 0.0)
        total = weight.sum(axis=0)
        rgb_out[batch] = np.einsum("kn,knc->nc", weight, rgb) / np.maximum(total, 1e-30)[:, None]
        n_out[batch] = seen.sum(axis=0)

    # Batches are independent and numpy releases the GIL in its loops: one thread per core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(blend, range(0, len(points), step)))
    return rgb_out, n_out


def incident_faces(faces: np.ndarray, n_verts: int) -> np.ndarray:
    """(V,) one face that each vertex is a corner of (-1 for unused vertices)."""
    out = np.full(n_verts, -1, dtype=np.int64)
    out[faces.ravel()] = np.repeat(np.arange(len(faces)), 3)
    return out


class PhotoColoring:
    """A surface colouring from photos, as dvr_cli.mesh.texture.bake_texture takes:
    (points (P, 3), face (P,) the triangle each lies on) -> (P, 3) RGB.

    verts (V, 3), faces (F, 3): the mesh the points lie on; views: photos whose cameras are in
    the mesh's frame; fallback: (P, 3) points -> (P, 3) RGB for points no photo sees. After a
    call, ``n_views`` (P,) holds how many photos each point's colour blends (0: fallback).
    """

    def __init__(
        self, verts: np.ndarray, faces: np.ndarray, views: Sequence[View], fallback: Callable[[np.ndarray], np.ndarray]
    ):
        self.normals = face_normals(verts, faces)
        self.photos = prepare_photos(raycasting_scene(verts, faces), faces, len(verts), views)
        self.candidates = candidate_views(self.photos, verts, faces, self.normals) if self.photos else None
        self.fallback = fallback
        self.n_views = np.zeros(0, dtype=np.int32)

    def __call__(self, points: np.ndarray, face: np.ndarray) -> np.ndarray:
        if self.candidates is None:
            rgb, self.n_views = np.zeros((len(points), 3), dtype=np.float32), np.zeros(len(points), dtype=np.int32)
        else:
            rgb, self.n_views = photo_colors(self.photos, self.candidates, points, self.normals[face], face)
        unseen = self.n_views == 0
        if unseen.any():
            rgb[unseen] = self.fallback(points[unseen])
        return rgb


def training_photos(run, warn: Callable[[str], None]) -> list[View] | None:
    """The photos ``run`` (a dvr_cli.run.Run) was fitted on, cameras in its unit frame.

    Held-out views are left out, so that evaluating on them stays fair. None, after one
    ``warn`` line, when the photos cannot be loaded any more (moved, deleted, resized).
    """
    try:
        scene = run.scene()
    except DvrError as exc:
        warn(f"warning: the run's photos cannot be loaded ({exc}); colouring from the texture field instead")
        return None
    return [
        View(run.normalization.camera_to_unit(v.camera), v.image, v.mask, image_path=v.image_path)
        for v in scene.subset(run.train).views
    ]
