"""Ray casting a triangle mesh (open3d): what each pixel of a camera hits, and which surface points a
camera centre sees. The exported mesh's renderer (evaluate.mesh_render), the photo bake and the
texture fit (mesh/) stand on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime import open3d
from ..scene.camera import Camera


def raycasting_scene(verts: np.ndarray, faces: np.ndarray):
    """open3d RaycastingScene of a triangle mesh (verts (V, 3), faces (F, 3)); geometry id 0."""
    o3d = open3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.ascontiguousarray(verts, dtype=np.float32)),
        o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)),
    )
    return scene


#: A point counts as seen from a camera centre when the first surface along the ray from the centre
#: lies at most this far before it (unit frame: a few marching-cubes cells at export resolutions).
VISIBLE_TOL = 0.01


def visible_from(scene, points: np.ndarray, center: np.ndarray) -> np.ndarray:
    """(N,) bool: no surface of ``scene`` (a :func:`raycasting_scene`) lies between ``center`` (3,)
    and each of ``points`` (N, 3), which lie on that surface, up to VISIBLE_TOL."""
    o3d = open3d()
    towards = np.asarray(points, dtype=np.float64) - center
    distance = np.linalg.norm(towards, axis=1)
    rays = np.empty((len(points), 6), dtype=np.float32)
    rays[:, :3] = center
    rays[:, 3:] = towards / np.maximum(distance, 1e-12)[:, None]
    hit = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    return hit >= distance - VISIBLE_TOL


@dataclass
class CameraHits:
    """What a camera's pixel rays hit, per pixel (H, W).

    Attributes:
        z: (H, W) float32 depth along the camera's z axis (inf on a miss).
        distance: (H, W) float32 distance from the camera centre along the ray (inf on a miss).
        face: (H, W) int64 index of the triangle hit (-1 on a miss).
        bary: (H, W, 3) float32 barycentric weights of the hit in that triangle's corners.
    """

    z: np.ndarray
    distance: np.ndarray
    face: np.ndarray
    bary: np.ndarray


def cast_camera(scene, camera: Camera) -> CameraHits:
    """Cast one ray through each pixel centre of ``camera`` (:meth:`Camera.pixel_rays`, same frame as
    the scene's mesh).

    The directions are unit vectors, so open3d's hit distance t is the distance along the ray and
    z = t (w . forward).
    """
    o3d = open3d()
    origins, dirs = camera.pixel_rays()
    hits = scene.cast_rays(o3d.core.Tensor(np.concatenate([origins, dirs], axis=1)))
    distance = hits["t_hit"].numpy()
    face = hits["primitive_ids"].numpy().astype(np.int64)
    face[~np.isfinite(distance)] = -1
    b12 = hits["primitive_uvs"].numpy()  # weights of corners 1 and 2
    bary = np.column_stack([1.0 - b12.sum(axis=1), b12])
    z = (distance * (dirs @ camera.forward.astype(np.float32))).astype(np.float32)
    shape = (camera.height, camera.width)
    return CameraHits(z.reshape(shape), distance.reshape(shape), face.reshape(shape), bary.reshape(*shape, 3))
