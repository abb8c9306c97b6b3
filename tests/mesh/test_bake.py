"""Colours from the photos: projection, blending weights, occlusion, outliers and the fallback."""

from __future__ import annotations

import math
import shutil

import cv2
import numpy as np
import pytest
import trimesh

from dvr_cli.cli import main
from dvr_cli.evaluate.mesh_render import MeshRenderer, load_colored_mesh
from dvr_cli.mesh.bake import SHARPNESS, PhotoColoring
from dvr_cli.mesh.clean import simplify
from dvr_cli.mesh.export import export_mesh
from dvr_cli.mesh.texture import bake_texture, fill_empty, rasterize_uv, split_seams, uv_atlas
from dvr_cli.run import load_run
from dvr_cli.scene import load_scene
from dvr_cli.scene.camera import Camera
from dvr_cli.scene.types import View

FALLBACK = np.array([0.0, 1.0, 0.0], dtype=np.float32)
TEX = 128


def fallback(points: np.ndarray) -> np.ndarray:
    return np.broadcast_to(FALLBACK, (len(points), 3)).copy()


def photo_at(view: View, points: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 3) bilinear colour of the view's photo at their projection."""
    uv = view.camera.project(points).astype(np.float32)
    return cv2.remap(view.image, uv[:, :1], uv[:, 1:], cv2.INTER_LINEAR)[:, 0]


def weight(view: View, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """The blending weight (cos * (f / z)^2)^SHARPNESS, computed in world units."""
    cam = view.camera
    toward = cam.center - points
    cos = np.einsum("nd,nd->n", normals, toward) / np.linalg.norm(toward, axis=1)
    z = cam.world_to_camera(points)[:, 2]
    return (cos * (math.sqrt(cam.K[0, 0] * cam.K[1, 1]) / z) ** 2) ** SHARPNESS


@pytest.fixture(scope="module")
def example(example_small):
    """The small example's photos and true mesh, its atlas (uv) and the texel points."""
    scene = load_scene(example_small / "images", example_small / "cams.json")
    mesh = trimesh.load(example_small / "mesh.ply", process=False)
    verts, faces = simplify(np.asarray(mesh.vertices), np.asarray(mesh.faces), 4000)
    source, faces_uv, uv = split_seams(faces, uv_atlas(verts, faces, TEX))
    face, bary = rasterize_uv(uv, faces_uv, TEX)
    filled = face >= 0
    points = np.einsum("pk,pkd->pd", bary[filled], verts[source][faces_uv[face[filled]]])
    normals = trimesh.Trimesh(verts, faces, process=False).face_normals[face[filled]]  # faces_uv keeps the order
    # Texels inside their triangle: on an edge the neighbour's normal (and weight) is as right.
    interior = bary[filled].min(axis=1) > 0.02
    return scene, verts, faces, (verts[source], faces_uv, uv), points, normals, interior


def bake(example, views):
    _, verts, faces, atlas, *_ = example
    coloring = PhotoColoring(verts, faces, views, fallback)
    image = bake_texture(coloring, *atlas, TEX)
    face, _ = rasterize_uv(atlas[2], atlas[1], TEX)
    return image[face >= 0], coloring.n_views


def test_single_view_texels_are_the_photo(example):
    scene, *_, points, _, _ = example
    view = scene.views[0]
    got, n_views = bake(example, [view])
    seen = n_views == 1
    assert 0.2 < seen.mean() < 0.6  # about the half of the surface that faces the camera
    assert np.abs(got[seen] - photo_at(view, points[seen])).max() < 2 / 255
    assert (got[~seen] == FALLBACK).all()


def test_two_views_blend_by_resolution_weights(example):
    scene, *_, points, normals, interior = example
    first, second = scene.views[0], scene.views[3]
    darker = View(second.camera, second.image * 0.5, second.mask)  # so that the two photos disagree
    got, n_views = bake(example, [first, darker])
    both = (n_views == 2) & interior
    assert both.mean() > 0.05
    p, n = points[both], normals[both]
    w1, w2 = weight(first, p, n), weight(darker, p, n)
    expected = (w1[:, None] * photo_at(first, p) + w2[:, None] * photo_at(darker, p)) / (w1 + w2)[:, None]
    assert np.abs(got[both] - expected).max() < 2 / 255
    # The weights vary: the blend is neither photo alone.
    share = w1 / (w1 + w2)
    assert share.min() < 0.2 and share.max() > 0.8


# Occlusion, outliers, fallback: a small square at z = 1 in front of a big one at z = 2, both
# facing cameras that look down +z. Camera A (at the origin) sees the big square except the
# small one's shadow, |x| < 0.6; camera B (at x = 1.5) sees the big square for x > 0 only.
def squares() -> tuple[np.ndarray, np.ndarray]:
    quad = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
    verts = np.concatenate([np.column_stack([quad, np.full(4, 2.0)]), np.column_stack([0.3 * quad, np.full(4, 1.0)])])
    faces = np.array([[0, 2, 1], [0, 3, 2], [4, 6, 5], [4, 7, 6]])  # normals towards -z (the cameras)
    return verts, faces


def flat_view(x: float, half_fov: float, rgb, size: int = 64) -> View:
    """A camera at (x, 0, 0) looking down +z that sees +-half_fov at z = 2, and a flat photo."""
    f = (size / 2) / (half_fov / 2)
    cam = Camera([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]], np.eye(3), [-x, 0, 0], size, size)
    return View(cam, np.broadcast_to(np.asarray(rgb, dtype=np.float32), (size, size, 3)).copy(), None)


def back_points(xs) -> np.ndarray:
    return np.array([[x, y, 2.0] for x in xs for y in (-0.5, 0.0, 0.5)])


def faces_of(points: np.ndarray) -> np.ndarray:
    """The big square's triangle under each point: face 0 below the diagonal y = x, face 1 above."""
    return np.where(points[:, 1] < points[:, 0], 0, 1)


def test_occluded_points_take_no_colour_from_the_view():
    verts, faces = squares()
    a = flat_view(0.0, 1.1, (1, 0, 0))
    b = flat_view(1.5, 1.5, (0, 0, 1))
    coloring = PhotoColoring(verts, faces, [a, b], fallback)
    red_only, blue_only, neither, both = (
        back_points(xs) for xs in ((-0.9, -0.7), (0.1, 0.5), (-0.5, -0.1), (0.7, 0.9))
    )
    np.testing.assert_allclose(coloring(red_only, faces_of(red_only)), [[1, 0, 0]] * len(red_only), atol=1e-6)
    # Hidden from A: B's colour only.
    np.testing.assert_allclose(coloring(blue_only, faces_of(blue_only)), [[0, 0, 1]] * len(blue_only), atol=1e-6)
    np.testing.assert_allclose(coloring(neither, faces_of(neither)), fallback(neither), atol=0)
    assert (coloring.n_views == 0).all()
    mixed = coloring(both, faces_of(both))
    normals = np.tile([0.0, 0.0, -1.0], (len(both), 1))
    wa, wb = weight(a, both, normals), weight(b, both, normals)
    np.testing.assert_allclose(mixed[:, 0], wa / (wa + wb), atol=1e-5)
    np.testing.assert_allclose(mixed[:, 2], wb / (wa + wb), atol=1e-5)
    # A camera behind the big square (at z = 4, looking down -z) sees its back: no colour from it.
    behind = flat_view(0.0, 1.1, (1, 1, 1))
    behind.camera = Camera(behind.camera.K, np.diag([-1.0, 1.0, -1.0]), [0, 0, 4.0], 64, 64)
    assert (PhotoColoring(verts, faces, [behind], fallback)(red_only, faces_of(red_only)) == FALLBACK).all()


def test_a_view_that_disagrees_is_rejected():
    verts, faces = squares()
    grey = [flat_view(x, 1.5, (0.4, 0.4, 0.4)) for x in (0.8, 1.0, 1.2)]
    highlight = flat_view(1.1, 1.5, (1.0, 1.0, 1.0))
    coloring = PhotoColoring(verts, faces, [*grey, highlight], fallback)
    points = back_points((0.6, 0.8))
    got = coloring(points, faces_of(points))
    np.testing.assert_allclose(got, 0.4, atol=1e-6)
    assert (coloring.n_views == 3).all()


def test_many_views_are_averaged_by_their_resolution():
    """A point seen by 12 photos under 12 lights takes their weighted mean, not the sharpest few."""
    verts, faces = squares()
    views = [flat_view(0.5 + 0.1 * i, 1.5, (0.40 + 0.01 * i,) * 3) for i in range(12)]
    coloring = PhotoColoring(verts, faces, views, fallback)
    points = back_points((0.6, 0.8))
    got = coloring(points, faces_of(points))
    assert (coloring.n_views == 12).all()
    normals = np.tile([0.0, 0.0, -1.0], (len(points), 1))
    w = np.stack([weight(view, points, normals) for view in views])  # (12, N)
    grey = 0.40 + 0.01 * np.arange(12)
    np.testing.assert_allclose(got[:, 0], (w * grey[:, None]).sum(axis=0) / w.sum(axis=0), atol=1e-5)
    assert np.ptp(got[:, 0]) < 0.01  # the same mean on every point, near the middle light
    assert abs(got[0, 0] - grey.mean()) < 0.02


def test_push_pull_fills_gutters_with_chart_colours():
    image = np.zeros((16, 16, 3), dtype=np.float32)
    filled = np.zeros((16, 16), dtype=bool)
    image[1:3, 1:3], filled[1:3, 1:3] = (1, 0, 0), True
    image[13, 13], filled[13, 13] = (0, 0, 1), True
    out = fill_empty(image, filled)
    np.testing.assert_array_equal(out[filled], image[filled])
    # Every empty texel is a blend of the two charts' colours: no black, nothing else mixed in.
    np.testing.assert_allclose(out[..., 0] + out[..., 2], 1.0, atol=1e-5)
    assert np.abs(out[..., 1]).max() < 1e-6
    assert out[3, 3, 0] > 0.95 and out[12, 12, 2] > 0.9  # gutters take the nearest chart's colour


@pytest.mark.slow
def test_export_falls_back_to_the_field_when_the_photos_are_gone(tmp_path, make_example):
    scene = make_example(tmp_path / "scene", views=6, size=(32, 32), test_views=0, colmap_points=20)
    assert main(["fit", str(scene), "--out", str(tmp_path / "run"), "--iters", "4", "--device", "cpu"]) == 0
    run = load_run(tmp_path / "run", device="cpu")
    export = dict(resolution=32, texture_size=64)
    lines: list[str] = []
    export_mesh(run, "obj", out=tmp_path / "photos.obj", log=lines.append, **export)
    assert any(line.startswith("colours from 6 photos") for line in lines)
    export_mesh(run, "obj", out=tmp_path / "field.obj", colors="field", **export)
    vertex = export_mesh(run, "ply", out=tmp_path / "photos.ply", colors="photos", **export)
    assert len(trimesh.load(vertex, process=False).vertices) > 0
    shutil.move(scene / "images", tmp_path / "moved")
    lines.clear()
    export_mesh(run, "obj", out=tmp_path / "gone.obj", log=lines.append, **export)
    warning = [line for line in lines if line.startswith("warning")]
    assert len(warning) == 1 and "\n" not in warning[0] and "texture field" in warning[0]
    # The same view of each mesh (UV layouts may differ by a texel between unwraps).
    image = {
        name: MeshRenderer(load_colored_mesh(tmp_path / f"{name}.obj")).render(run.cameras[0])["rgb"]
        for name in ("photos", "field", "gone")
    }
    assert np.abs(image["gone"] - image["field"]).mean() < 0.5 / 255
    assert np.abs(image["photos"] - image["field"]).mean() > 2 / 255  # the photos did change it
