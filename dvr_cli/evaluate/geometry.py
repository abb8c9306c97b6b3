"""Geometry metrics between a predicted and a ground-truth mesh (world units).

Points are sampled uniformly (by area) on each surface; distances are exact point-to-triangle
distances to the other mesh (open3d RaycastingScene), so identical meshes score 0.
  accuracy     = mean distance pred samples -> GT surface
  completeness = mean distance GT samples -> predicted surface
  Chamfer-L1   = (accuracy + completeness) / 2
  F-score@t    = 2 P R / (P + R), P = share of pred samples within t of GT, R = the converse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DvrError
from ..runtime import open3d

#: Default F-score threshold as a fraction of the GT bounding-box diagonal.
FSCORE_FRACTION = 0.01


def load_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read any mesh trimesh reads: (verts (V, 3) float64, faces (F, 3) int64); DvrError if unusable."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise DvrError("mesh file does not exist", path)
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for unknown or broken files
        raise DvrError(
            f"cannot read mesh ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})", path
        ) from None
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64)
    if len(faces) == 0:
        raise DvrError("mesh has no triangles", path)
    return np.asarray(mesh.vertices, dtype=np.float64), faces


def sample_surface(verts: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) points uniform by area on the triangles."""
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    pick = rng.choice(len(faces), size=n, p=area / area.sum())
    r1, r2 = rng.random((2, n))
    s = np.sqrt(r1)  # uniform barycentrics: (1 - s, s (1 - r2), s r2)
    t = tri[pick]
    return (1 - s)[:, None] * t[:, 0] + (s * (1 - r2))[:, None] * t[:, 1] + (s * r2)[:, None] * t[:, 2]


def distance_to_mesh(points: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(N,) exact distance of each point to the nearest triangle."""
    o3d = open3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    return scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy().astype(np.float64)


def mesh_distances(
    pred: tuple[np.ndarray, np.ndarray],
    gt: tuple[np.ndarray, np.ndarray],
    n_points: int = 100_000,
    threshold: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracy, completeness, Chamfer-L1 and F-score of ``pred`` against ``gt`` (each (verts, faces)).

    ``threshold``: F-score distance in world units (default 1% of the GT bounding-box diagonal).
    Returns world-unit values and the same as % of the GT diagonal (keys ending in ``_pct``).
    """
    rng = np.random.default_rng(seed)
    diagonal = float(np.linalg.norm(gt[0].max(axis=0) - gt[0].min(axis=0)))
    threshold = FSCORE_FRACTION * diagonal if threshold is None else float(threshold)
    to_gt = distance_to_mesh(sample_surface(*pred, n_points, rng), *gt)
    to_pred = distance_to_mesh(sample_surface(*gt, n_points, rng), *pred)
    precision, recall = float((to_gt < threshold).mean()), float((to_pred < threshold).mean())
    result = {
        "accuracy": float(to_gt.mean()),
        "completeness": float(to_pred.mean()),
        "chamfer_l1": float(0.5 * (to_gt.mean() + to_pred.mean())),
        "threshold": threshold,
    }
    result.update({f"{k}_pct": 100.0 * v / diagonal for k, v in list(result.items())})
    result.update(
        precision=precision,
        recall=recall,
        fscore=0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall),
        gt_diagonal=diagonal,
        n_points=n_points,
    )
    return result


def outside_hull_share(
    verts: np.ndarray, faces: np.ndarray, cameras: list, masks: list[np.ndarray], dilate_px: int = 5
) -> float:
    """The share of a mesh's area (world verts (V, 3), faces (F, 3)) outside the visual hull of
    the object masks (H, W) bool of ``cameras``, each dilated by ``dilate_px`` pixels: a face is
    outside when its centroid falls, in front of some camera, on its image but off its dilated
    mask (what a table or wall left in an object's mesh scores)."""
    import cv2

    tri = verts[faces]
    centroids, area = (
        tri.mean(axis=1),
        0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1),
    )
    outside = np.zeros(len(faces), bool)
    kernel = np.ones((2 * dilate_px + 1, 2 * dilate_px + 1), np.uint8)
    for camera, mask in zip(cameras, masks):
        grown = cv2.dilate(mask.astype(np.uint8), kernel) > 0
        uv, depth = camera.project_depth(centroids)
        seen = (depth > 0) & camera.in_image(uv)
        i, j = camera.pixel_index(uv[seen]).T
        outside[np.flatnonzero(seen)[~grown[j, i]]] = True
    return float(area[outside].sum() / max(area.sum(), 1e-12))
