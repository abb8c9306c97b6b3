"""Mesh files: PLY (vertex colours), OBJ + MTL + PNG, GLB (texture embedded or vertex colours)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from ..errors import DvrError
from ..files import atomic_path, to_uint8, write_bytes_atomic, write_text_atomic

FORMATS = ("ply", "obj", "glb")


@dataclass
class ColoredMesh:
    """A mesh ready to write.

    Attributes:
        verts: (V, 3) float64 positions (world units when exported).
        faces: (F, 3) int64, counter-clockwise seen from outside.
        colors: (V, 3) float32 RGB in [0, 1], or None.
        uv: (V, 2) texture coordinates, u along columns and v down rows (dvr_cli.mesh.texture), or None.
        texture: (S, S, 3) float32 RGB in [0, 1] (row 0 at v = 0), or None.
    """

    verts: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None
    uv: np.ndarray | None = None
    texture: np.ndarray | None = None

    @property
    def normals(self) -> np.ndarray:
        """(V, 3) area-weighted vertex normals; outward because faces wind counter-clockwise."""
        return np.asarray(trimesh.Trimesh(self.verts, self.faces, process=False).vertex_normals)


def _texture_image(mesh: ColoredMesh) -> Image.Image:
    return Image.fromarray(to_uint8(mesh.texture), "RGB")


def write_ply(mesh: ColoredMesh, path: Path) -> None:
    """Binary PLY with vertex normals and (if any) 8-bit vertex colours."""
    if mesh.texture is not None:
        raise DvrError("PLY keeps vertex colours only; use --texture vertex or --format obj/glb for an atlas", path)
    tm = trimesh.Trimesh(
        mesh.verts,
        mesh.faces,
        vertex_normals=mesh.normals,
        process=False,
        vertex_colors=None if mesh.colors is None else to_uint8(mesh.colors),
    )
    write_bytes_atomic(path, tm.export(file_type="ply", vertex_normal=True))


def write_obj(mesh: ColoredMesh, path: Path) -> list[Path]:
    """OBJ with normals; with a texture also ``<stem>.mtl`` and ``<stem>.png`` beside it.

    Without a texture, vertex colours go on the ``v`` lines (``v x y z r g b``, read by
    MeshLab, Blender, open3d and trimesh). Every file is written atomically. Returns every file written.
    """
    path = Path(path)
    written = [path]
    f = io.StringIO()
    f.write("# dvr: differentiable volumetric rendering export\n")
    if mesh.texture is not None:  # the texture and material first: the OBJ appears once they are whole
        mtl, png = path.with_suffix(".mtl"), path.with_suffix(".png")
        with atomic_path(png) as tmp:
            _texture_image(mesh).save(tmp, format="PNG")
        write_text_atomic(mtl, f"newmtl material0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nillum 1\nmap_Kd {png.name}\n")
        written += [mtl, png]
        f.write(f"mtllib {mtl.name}\nusemtl material0\n")
    if mesh.colors is not None and mesh.texture is None:
        np.savetxt(f, np.column_stack([mesh.verts, mesh.colors]), fmt="v %.7g %.7g %.7g %.4f %.4f %.4f")
    else:
        np.savetxt(f, mesh.verts, fmt="v %.7g %.7g %.7g")
    np.savetxt(f, mesh.normals, fmt="vn %.5f %.5f %.5f")
    corners = mesh.faces + 1
    if mesh.uv is not None:
        # OBJ's v runs up the image.
        np.savetxt(f, np.column_stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]]), fmt="vt %.7f %.7f")
        np.savetxt(f, np.repeat(corners, 3, axis=1), fmt="f %d/%d/%d %d/%d/%d %d/%d/%d")
    else:
        np.savetxt(f, np.repeat(corners, 2, axis=1), fmt="f %d//%d %d//%d %d//%d")
    write_text_atomic(path, f.getvalue())
    return written


def write_glb(mesh: ColoredMesh, path: Path) -> None:
    """Binary glTF: PBR material with the texture embedded, or COLOR_0 vertex colours."""
    if mesh.texture is not None:
        material = trimesh.visual.material.PBRMaterial(
            baseColorTexture=_texture_image(mesh), metallicFactor=0.0, roughnessFactor=1.0
        )
        # trimesh's uv has v up (it flips to glTF's v-down on export).
        visual = trimesh.visual.TextureVisuals(
            uv=np.column_stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]]), material=material
        )
    elif mesh.colors is not None:
        visual = trimesh.visual.ColorVisuals(vertex_colors=to_uint8(mesh.colors))
    else:
        visual = None
    tm = trimesh.Trimesh(mesh.verts, mesh.faces, vertex_normals=mesh.normals, visual=visual, process=False)
    write_bytes_atomic(path, tm.export(file_type="glb"))


def mesh_files(path: Path, fmt: str, textured: bool) -> list[Path]:
    """The files ``write_mesh`` writes for ``path``: the mesh, and an OBJ's texture and material."""
    path = Path(path)
    return [path, path.with_suffix(".mtl"), path.with_suffix(".png")] if fmt == "obj" and textured else [path]


def write_mesh(mesh: ColoredMesh, path: Path, fmt: str) -> list[Path]:
    """Write ``mesh`` as ``fmt`` (ply, obj, glb), each file atomically (a temporary name, then
    renamed: an interrupted export leaves no half-written file); returns the files written."""
    if fmt == "obj":
        return write_obj(mesh, path)
    if fmt == "ply":
        write_ply(mesh, path)
    elif fmt == "glb":
        write_glb(mesh, path)
    else:
        raise DvrError(f"unknown mesh format '{fmt}' (choose from {', '.join(FORMATS)})")
    return [Path(path)]
