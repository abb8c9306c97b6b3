"""Export of an analytic coloured sphere: files load back in world units with the field's colours."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image

from dvr_cli.errors import DvrError
from dvr_cli.mesh.clean import keep_large_components, simplify
from dvr_cli.mesh.export import export_mesh, surface_cache_path
from dvr_cli.runtime import open3d
from sphere_field import NORMALIZATION, RADIUS, sphere_color, sphere_run

RES, TEX = 64, 256
WORLD_RADIUS = RADIUS * NORMALIZATION.scale


def sample_texture(image: np.ndarray, uv_up: np.ndarray) -> np.ndarray:
    """Bilinear lookup (clamped at the border) of (H, W, 3) uint8 at OBJ-convention uv (v up)."""
    h, w = image.shape[:2]
    x = np.clip(uv_up[:, 0] * w - 0.5, 0, w - 1)
    y = np.clip((1.0 - uv_up[:, 1]) * h - 0.5, 0, h - 1)
    x0, y0 = np.minimum(np.floor(x).astype(int), w - 2), np.minimum(np.floor(y).astype(int), h - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    img = image.astype(np.float64) / 255.0
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def check_world_sphere(verts: np.ndarray) -> None:
    radius = np.linalg.norm(verts - NORMALIZATION.center, axis=1)
    assert np.abs(radius - WORLD_RADIUS).max() < 0.01 * WORLD_RADIUS


@pytest.fixture()
def run(tmp_path):
    return sphere_run(tmp_path / "run")


def test_ply_vertex_colours_world_units(run):
    path = export_mesh(run, "ply", resolution=RES, colors="field")  # the stand-in run has no photos
    assert path == run.run_dir / "export" / "mesh.ply"
    assert surface_cache_path(run, RES).is_file()
    mesh = open3d().io.read_triangle_mesh(str(path))
    verts, colors = np.asarray(mesh.vertices), np.asarray(mesh.vertex_colors)
    assert 4000 < len(verts) < 6000 and len(mesh.triangles) == 2 * len(verts) - 4  # closed genus 0
    check_world_sphere(verts)
    expected = sphere_color(NORMALIZATION.to_unit(verts))
    assert np.abs(colors - expected).max() < 1.0 / 255
    normals = np.asarray(mesh.vertex_normals)
    outward = np.einsum("ij,ij->i", normals, verts - NORMALIZATION.center) / WORLD_RADIUS
    assert outward.min() > 0.99


@pytest.mark.parametrize("fmt", ["obj", "glb"])
def test_atlas_texture_matches_field(run, tmp_path, fmt):
    out = tmp_path / f"sphere.{fmt}"
    export_mesh(run, fmt, resolution=RES, out=out, texture_size=TEX, colors="field")  # the stand-in run has no photos
    loaded = trimesh.load(out, force="mesh", process=False)
    check_world_sphere(np.asarray(loaded.vertices))
    # Seam vertices are split, so a few more than the ~4.8k of the closed mesh.
    assert 4000 < len(loaded.vertices) < 6500 and len(loaded.faces) == 9512
    image = np.asarray(loaded.visual.material.baseColorTexture if fmt == "glb" else loaded.visual.material.image)
    assert image.shape[:2] == (TEX, TEX)
    got = sample_texture(image[..., :3], np.asarray(loaded.visual.uv))
    expected = sphere_color(NORMALIZATION.to_unit(np.asarray(loaded.vertices)))
    err = np.abs(got - expected) * 255
    assert np.median(err) < 1.0 and np.percentile(err, 99) < 4.0
    assert loaded.volume > 0  # outward winding survives the writers
    if fmt == "obj":
        assert (tmp_path / "sphere.mtl").is_file() and Image.open(tmp_path / "sphere.png").size == (TEX, TEX)


def test_vertex_colour_obj_and_glb(run, tmp_path):
    for fmt in ("obj", "glb"):
        out = export_mesh(run, fmt, resolution=RES, out=tmp_path / f"v.{fmt}", texture="vertex", colors="field")
        loaded = trimesh.load(out, force="mesh", process=False)
        colors = np.asarray(loaded.visual.vertex_colors)[:, :3] / 255.0
        expected = sphere_color(NORMALIZATION.to_unit(np.asarray(loaded.vertices)))
        assert np.abs(colors - expected).max() < 1.5 / 255


def test_simplify_reaches_target(run, tmp_path):
    out = export_mesh(run, "ply", resolution=RES, out=tmp_path / "s.ply", simplify=1000, colors="field")
    mesh = trimesh.load(out, process=False)
    assert 900 <= len(mesh.faces) <= 1000
    radius = np.linalg.norm(np.asarray(mesh.vertices) - NORMALIZATION.center, axis=1)
    assert np.abs(radius - WORLD_RADIUS).max() < 0.03 * WORLD_RADIUS


def test_keep_large_components_drops_specks():
    big = trimesh.creation.icosphere(subdivisions=3)
    speck = trimesh.creation.icosphere(subdivisions=0, radius=0.05)  # 20 faces: 1.6%
    speck.apply_translation([3, 0, 0])
    both = trimesh.util.concatenate([big, speck])
    verts, faces = keep_large_components(np.asarray(both.vertices), np.asarray(both.faces))
    assert len(faces) == len(big.faces) and len(verts) == len(big.vertices)
    assert simplify(verts, faces, 10**6)[1].shape == faces.shape


@pytest.mark.parametrize("radius,state", [(-1.0, "empty"), (5.0, "full")])
def test_no_surface_is_a_user_error(tmp_path, radius, state):
    run = sphere_run(tmp_path / "run", radius=radius)
    with pytest.raises(DvrError, match=f"{state} everywhere.*more iterations"):
        export_mesh(run, "ply", resolution=32)
    assert not (run.run_dir / "export" / "mesh.ply").exists()


def test_unwritable_output_fails_before_extraction(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DvrError, match="cannot create the output folder") as info:
        export_mesh(run, "ply", resolution=RES, out=blocker / "mesh.ply")
    assert "\n" not in str(info.value)
    assert not surface_cache_path(run, RES).exists()  # nothing was extracted


def test_bad_options(run):
    with pytest.raises(DvrError, match="PLY keeps vertex colours"):
        export_mesh(run, "ply", texture="atlas")
    with pytest.raises(DvrError, match="unknown format"):
        export_mesh(run, "stl")
