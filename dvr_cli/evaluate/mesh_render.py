"""Images of a coloured mesh (what `dvr export` writes), to judge the file the user takes home.

One ray per pixel centre against the triangles (open3d's RaycastingScene), the colour looked up
at the hit: bilinearly in the texture atlas, or interpolated from the vertex colours. No
shading: the colours are the photographed appearance, as the texture stores it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import trimesh

from ..errors import DvrError
from ..mesh.texture_fit import MESH_SUPERSAMPLE as MESH_SUPERSAMPLE  # the scorer shows meshes as the fit renders them
from ..mesh.writers import ColoredMesh
from ..render.mesh import cast_camera, raycasting_scene
from ..run import EXPORT
from ..scene.camera import Camera

#: Mesh files `dvr export` writes.
MESH_SUFFIXES = (".obj", ".glb", ".ply")


def latest_export(run_dir: Path) -> Path | None:
    """The newest mesh file in RUN/export (None when there is none)."""
    meshes = [p for p in (Path(run_dir) / EXPORT).glob("*") if p.suffix.lower() in MESH_SUFFIXES and p.is_file()]
    return max(meshes, key=lambda p: p.stat().st_mtime_ns) if meshes else None


def load_colored_mesh(path: str | Path) -> ColoredMesh:
    """Read a mesh written by `dvr export` (PLY, OBJ + MTL + PNG, GLB) with its colours.

    Returns verts (V, 3) and faces (F, 3) as stored, with either ``uv`` (V, 2, v down the
    image, dvr_cli.mesh.texture's convention) and ``texture`` (S, S, 3) float32, or ``colors``
    (V, 3). DvrError for a file that cannot be read or has no colour.
    """
    path = Path(path)
    try:
        tm = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise DvrError(f"cannot read the mesh ({exc})", path) from None
    if not isinstance(tm, trimesh.Trimesh) or len(tm.faces) == 0:
        raise DvrError("no triangles in the mesh", path)
    verts, faces = np.asarray(tm.vertices, dtype=np.float64), np.asarray(tm.faces, dtype=np.int64)
    visual = tm.visual
    if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None:
        material = visual.material
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        if image is None:
            raise DvrError("the mesh has texture coordinates but no texture image", path)
        texture = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        uv = np.asarray(visual.uv, dtype=np.float64)
        return ColoredMesh(verts, faces, uv=np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]), texture=texture)
    if visual.kind == "vertex":
        return ColoredMesh(verts, faces, colors=np.asarray(visual.vertex_colors, dtype=np.float32)[:, :3] / 255.0)
    raise DvrError("the mesh has neither a texture nor vertex colours", path)


def sample_texture(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup, clamped at the border, of texture (S, S, 3) at uv (..., 2) (v down).

    The centre of texel (row j, column i) is at uv = ((i + 0.5) / S, (j + 0.5) / S). Returns
    (..., 3) float32.
    """
    h, w = texture.shape[:2]
    flat = uv.reshape(-1, 2)
    # cv2.remap takes maps of at most 32767 columns: lay the lookups out in rows of 4096.
    cols = 4096
    n = len(flat)
    pad = (-n) % cols
    x = np.pad(flat[:, 0] * w - 0.5, (0, pad)).astype(np.float32).reshape(-1, cols)
    y = np.pad(flat[:, 1] * h - 0.5, (0, pad)).astype(np.float32).reshape(-1, cols)
    out = cv2.remap(
        np.ascontiguousarray(texture, dtype=np.float32), x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out.reshape(-1, 3)[:n].reshape(*uv.shape[:-1], 3)


class MeshRenderer:
    """Renders a ColoredMesh (with ``uv`` + ``texture`` or ``colors``) from pinhole cameras.

    The cameras must be in the mesh's frame (world units for an exported file).
    """

    def __init__(self, mesh: ColoredMesh):
        if mesh.texture is None and mesh.colors is None:
            raise DvrError("the mesh has neither a texture nor vertex colours")
        self.mesh = mesh
        self.scene = raycasting_scene(mesh.verts, mesh.faces)
        self.face_normals = trimesh.Trimesh(mesh.verts, mesh.faces, process=False).face_normals

    def render(self, camera: Camera, background=(1.0, 1.0, 1.0), supersample: int = 1) -> dict[str, np.ndarray]:
        """One image, as ``Run.render`` gives the field's: ``rgb`` (H, W, 3) float32
        (``background`` where no triangle is hit), ``depth`` (H, W) float32 distance along the
        ray (0 on a miss), ``normal`` (H, W, 3) the hit triangle's outward unit normal, ``mask``
        (H, W) bool.

        ``supersample`` s: s x s rays per pixel, averaged (a photo's pixel integrates its whole
        area, so edges and fine texture come out as a camera sees them); ``mask`` is then a
        coverage >= 0.5, ``depth`` and ``normal`` the means over the rays that hit.
        """
        s = int(supersample)
        if s < 1:
            raise DvrError(f"supersample must be at least 1 (got {supersample})")
        hits = cast_camera(self.scene, camera.resized(camera.width * s, camera.height * s) if s > 1 else camera)
        hit = hits.face >= 0
        corners = self.mesh.faces[hits.face[hit]]  # (N, 3)
        bary = hits.bary[hit][..., None]  # (N, 3, 1)
        rgb = np.empty((*hit.shape, 3), dtype=np.float32)
        rgb[:] = np.asarray(background, dtype=np.float32)
        if self.mesh.texture is not None:
            rgb[hit] = sample_texture(self.mesh.texture, (bary * self.mesh.uv[corners]).sum(axis=1))
        else:
            rgb[hit] = (bary * self.mesh.colors[corners]).sum(axis=1)
        normal = np.zeros((*hit.shape, 3), dtype=np.float32)
        normal[hit] = self.face_normals[hits.face[hit]]
        depth = np.where(hit, hits.distance, 0.0).astype(np.float32)
        if s == 1:
            return {"rgb": rgb, "depth": depth, "normal": normal, "mask": hit}

        def pool(a):  # (H s, W s, ...) -> (H, W, ...) sums over each pixel's s x s rays
            return a.reshape(camera.height, s, camera.width, s, *a.shape[2:]).sum(axis=(1, 3))

        n_hit = pool(hit.astype(np.float32))
        normal = pool(normal)
        normal /= np.maximum(np.linalg.norm(normal, axis=2, keepdims=True), 1e-12)
        return {
            "rgb": pool(rgb) / s**2,
            "depth": pool(depth) / np.maximum(n_hit, 1),
            "normal": normal,
            "mask": n_hit >= s**2 / 2,
        }
