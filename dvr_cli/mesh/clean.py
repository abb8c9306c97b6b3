"""Mesh clean-up after extraction: drop small floating pieces, optionally decimate."""

from __future__ import annotations

import numpy as np

from ..runtime import open3d


def _to_open3d(verts: np.ndarray, faces: np.ndarray):
    o3d = open3d()
    return o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(np.asarray(verts, dtype=np.float64)),
        o3d.utility.Vector3iVector(np.asarray(faces, dtype=np.int32)),
    )


def _from_open3d(mesh) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.triangles, dtype=np.int64)


def keep_large_components(
    verts: np.ndarray, faces: np.ndarray, min_fraction: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the connected components with at least ``min_fraction`` of the largest one's triangles.

    verts (V, 3), faces (F, 3) -> (verts (V', 3), faces (F', 3)), unreferenced vertices removed.
    Floating specks come from noise in empty space; a real second object part is rarely 20x
    smaller than the main one.
    """
    if len(faces) == 0:
        return verts, faces
    mesh = _to_open3d(verts, faces)
    cluster, counts, _ = mesh.cluster_connected_triangles()
    cluster, counts = np.asarray(cluster), np.asarray(counts)
    small = counts < min_fraction * counts.max()
    mesh.remove_triangles_by_mask(small[cluster])
    mesh.remove_unreferenced_vertices()
    return _from_open3d(mesh)


def simplify(verts: np.ndarray, faces: np.ndarray, n_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge-collapse decimation to about ``n_faces`` triangles (no-op when already fewer)."""
    if n_faces >= len(faces):
        return verts, faces
    mesh = _to_open3d(verts, faces).simplify_quadric_decimation(target_number_of_triangles=int(n_faces))
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()
    return _from_open3d(mesh)
