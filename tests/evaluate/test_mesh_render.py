"""Rendering an exported mesh: a textured square whose true image is known pixel by pixel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dvr_cli.errors import DvrError
from dvr_cli.evaluate.image_metrics import masked_psnr, silhouette_iou
from dvr_cli.evaluate.mesh_render import MESH_SUPERSAMPLE, MeshRenderer, load_colored_mesh, sample_texture
from dvr_cli.evaluate.report import score_mesh
from dvr_cli.mesh.writers import ColoredMesh, write_mesh
from dvr_cli.scene.camera import Camera
from dvr_cli.scene.types import View

# Camera at the origin looking down +z; the square x, y in [-0.5, 0.5] at z = 2 spans 50 pixel
# centres per axis (columns/rows 7..56 of 64), its texture 8x8 texels of 8-bit values.
F, W, H, Z = 100.0, 64, 64, 2.0
CAMERA = Camera([[F, 0, (W - 1) / 2], [0, F, (H - 1) / 2], [0, 0, 1]], np.eye(3), np.zeros(3), W, H)
TEXTURE = np.random.default_rng(0).integers(30, 200, (8, 8, 3)).astype(np.float32) / 255.0


def square(offset_x: float = 0.0, texture: np.ndarray = TEXTURE) -> ColoredMesh:
    """Two triangles facing the camera, uv = (x + 0.5, y + 0.5) (v down, like the image's y)."""
    xy = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    verts = np.column_stack([xy[:, 0] + offset_x, xy[:, 1], np.full(4, Z)])
    faces = np.array([[0, 2, 1], [0, 3, 2]])  # counter-clockwise seen from the camera (-z side)
    return ColoredMesh(verts, faces, uv=xy + 0.5, texture=texture)


def expected_image(texture: np.ndarray = TEXTURE) -> tuple[np.ndarray, np.ndarray]:
    """The square's image from the ray-plane intersection of each pixel centre."""
    u, v = np.meshgrid(np.arange(W), np.arange(H), indexing="xy")
    x, y = (u - (W - 1) / 2) / F * Z, (v - (H - 1) / 2) / F * Z
    mask = (np.abs(x) < 0.5) & (np.abs(y) < 0.5)
    rgb = np.ones((H, W, 3), dtype=np.float32)
    rgb[mask] = sample_texture(texture, np.column_stack([x[mask] + 0.5, y[mask] + 0.5]))
    return rgb, mask


def test_sample_texture_bilinear():
    texture = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    uv = np.array([[0.5 / 3, 0.5 / 2], [1.0 / 3, 0.5 / 2], [2.5 / 3, 0.5], [0.0, 0.0]])
    got = sample_texture(texture, uv)
    np.testing.assert_allclose(got[0], texture[0, 0], atol=1e-5)  # a texel centre
    np.testing.assert_allclose(got[1], (texture[0, 0] + texture[0, 1]) / 2, atol=1e-5)  # between two
    np.testing.assert_allclose(got[2], (texture[0, 2] + texture[1, 2]) / 2, atol=1e-5)
    np.testing.assert_allclose(got[3], texture[0, 0], atol=1e-5)  # clamped at the border


def test_render_matches_known_image():
    out = MeshRenderer(square()).render(CAMERA)
    rgb, mask = expected_image()
    assert mask.sum() == 50 * 50
    np.testing.assert_array_equal(out["mask"], mask)
    assert np.abs(out["rgb"] - rgb).max() < 1e-4
    u, v = np.meshgrid(np.arange(W) - (W - 1) / 2, np.arange(H) - (H - 1) / 2, indexing="xy")
    np.testing.assert_allclose(out["depth"][mask], (Z * np.sqrt(1 + (u**2 + v**2) / F**2))[mask], rtol=1e-5)
    assert (out["depth"][~mask] == 0).all()
    np.testing.assert_allclose(out["normal"][mask], np.tile([0, 0, -1], (mask.sum(), 1)), atol=1e-6)


def test_psnr_inf_on_itself_and_known_errors():
    base = MeshRenderer(square()).render(CAMERA)
    rgb, mask = base["rgb"], base["mask"]
    assert masked_psnr(MeshRenderer(square()).render(CAMERA)["rgb"], rgb, mask) == math.inf
    shifted = MeshRenderer(square(texture=TEXTURE + 0.1)).render(CAMERA)
    assert masked_psnr(shifted["rgb"], rgb, mask) == pytest.approx(20.0, abs=1e-3)  # 10 log10(1 / 0.1^2)
    # Moved by 0.1 world units = 5 pixels sideways: 45 of 55 columns overlap.
    moved = MeshRenderer(square(offset_x=0.1)).render(CAMERA)
    assert silhouette_iou(moved["mask"], mask) == pytest.approx(45 / 55, abs=1e-9)


def test_vertex_colours_interpolate():
    mesh = square()
    colors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=np.float32)
    out = MeshRenderer(ColoredMesh(mesh.verts, mesh.faces, colors=colors)).render(CAMERA, background=(0, 0, 0))
    # Pixel (column 33, row 32) sees x = 0.03, y = 0.01: on face (0, 2, 1) with barycentrics (0.47, 0.51, 0.02).
    np.testing.assert_allclose(out["rgb"][32, 33], 0.47 * colors[0] + 0.51 * colors[2] + 0.02 * colors[1], atol=1e-5)
    assert (out["rgb"][0, 0] == 0).all()


@pytest.mark.parametrize("fmt", ["obj", "glb"])
def test_exported_file_renders_the_same(tmp_path, fmt):
    path = tmp_path / f"square.{fmt}"
    write_mesh(square(), path, fmt)
    loaded = load_colored_mesh(path)
    out = MeshRenderer(loaded).render(CAMERA)
    rgb, mask = expected_image()
    np.testing.assert_array_equal(out["mask"], mask)
    assert np.abs(out["rgb"] - rgb).max() < 0.5 / 255  # the texture went through 8-bit PNG losslessly


def test_unreadable_mesh_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.obj"
    bad.write_text("not a mesh\n")
    with pytest.raises(DvrError):
        load_colored_mesh(bad)


def test_supersampling_averages_each_pixel():
    # Moved by 0.11 world units = 5.5 pixels: the edge columns are half covered.
    mesh = square(offset_x=0.11, texture=np.full((8, 8, 3), 0.2, dtype=np.float32))
    out = MeshRenderer(mesh).render(CAMERA, background=(1, 1, 1), supersample=4)
    # Square x in [-0.39, 0.61] -> pixel u = 31.5 + x * 50 in [12, 62]: columns 12 and 62 half covered.
    np.testing.assert_allclose(out["rgb"][32, [12, 62]], 0.6, atol=1e-6)
    np.testing.assert_allclose(out["rgb"][32, 13:62], 0.2, atol=1e-6)
    assert out["mask"][32, 11:64].tolist() == [False] + [True] * 51 + [False]
    np.testing.assert_allclose(out["normal"][32, 30], [0, 0, -1], atol=1e-6)


def test_score_mesh_inf_on_itself_and_known_shift():
    base = MeshRenderer(square()).render(CAMERA, background=(1, 1, 1), supersample=MESH_SUPERSAMPLE)
    views = [View(CAMERA, base["rgb"], base["mask"])]
    itself = score_mesh(square(), views)["mean"]
    assert itself["masked_psnr"] == math.inf and itself["iou"] == 1.0 and itself["ssim"] == pytest.approx(1.0)
    shifted = score_mesh(square(texture=TEXTURE + 0.1), views)["mean"]
    assert shifted["masked_psnr"] == pytest.approx(20.0, abs=1e-3)
