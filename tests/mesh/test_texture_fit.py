"""The operator that renders a mesh's colours, and the fit of those colours to photos."""

from __future__ import annotations

import numpy as np

from dvr_cli.evaluate.image_metrics import psnr
from dvr_cli.evaluate.mesh_render import MeshRenderer
from dvr_cli.mesh.texture_fit import atlas_taps, fit_colors, render_rows, vertex_taps
from dvr_cli.mesh.writers import ColoredMesh
from dvr_cli.scene.camera import Camera, look_at
from dvr_cli.scene.types import View

Z = 2.0
XY = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
VERTS = np.column_stack([XY, np.full(4, Z)])
FACES = np.array([[0, 2, 1], [0, 3, 2]])  # counter-clockwise seen from the origin
UV = XY + 0.5  # u along x, v down along y


def camera(eye, size: int = 24, focal: float = 40.0) -> Camera:
    R, t = look_at(np.asarray(eye, dtype=float), np.array([0.0, 0.0, Z]), up=(0, -1, 0))
    return Camera([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1]], R, t, size, size)


def photo(cam: Camera, image: np.ndarray, mask: np.ndarray | None = None) -> View:
    return View(cam, image.astype(np.float32), mask)


def test_operator_renders_a_2x2_texture_as_computed_by_hand():
    # Two pixels per axis, each covering one quarter of the square; 2 x 2 rays per pixel land at
    # x = -0.375, -0.125 (pixel 0), 0.125, 0.375 (pixel 1), i.e. texel coordinates uv * 2 - 0.5 =
    # -0.25, 0.25, 0.75, 1.25. Per axis pixel 0 reads texel 0 with (1 + 0.75) / 2 = 0.875 (the
    # first ray clamps at the border) and texel 1 with 0.125.
    cam = Camera([[4.0, 0, 0.5], [0, 4.0, 0.5], [0, 0, 1]], np.eye(3), np.zeros(3), 2, 2)
    texture = np.array([[[1.0, 0, 0], [0, 1.0, 0]], [[0, 0, 1.0], [1.0, 1.0, 1.0]]], dtype=np.float32)
    rows = render_rows(VERTS, FACES, [photo(cam, np.zeros((2, 2, 3)))], atlas_taps(FACES, UV, 2), 4)
    near, far = 0.875, 0.125
    expected = np.array(
        [
            [near * near, near * far, far * near, far * far],  # pixel (row 0, column 0)
            [near * far, near * near, far * far, far * near],  # pixel (0, 1)
            [near * far, far * far, near * near, near * far],  # pixel (1, 0)
            [far * far, near * far, far * near, near * near],
        ]
    )  # pixel (1, 1)
    np.testing.assert_allclose(rows.matrix.toarray(), expected, atol=1e-6)
    np.testing.assert_array_equal(rows.coverage, 1.0)
    rendered = MeshRenderer(ColoredMesh(VERTS, FACES, uv=UV, texture=texture)).render(cam, supersample=2)["rgb"]
    np.testing.assert_allclose(rows.matrix @ texture.reshape(4, 3), rendered.reshape(4, 3), atol=1e-5)


def test_vertex_operator_matches_the_renderer():
    colors = np.random.default_rng(1).random((4, 3)).astype(np.float32)
    cam = camera([0.3, -0.2, 0.0])
    rows = render_rows(VERTS, FACES, [photo(cam, np.zeros((24, 24, 3)))], vertex_taps(FACES), 4)
    out = MeshRenderer(ColoredMesh(VERTS, FACES, colors=colors)).render(cam, background=(0, 0, 0), supersample=2)
    assert rows.coverage.min() < 1.0 < rows.coverage.max() + 1e-6  # edge pixels are partly covered
    np.testing.assert_allclose(rows.matrix @ colors, out["rgb"].reshape(-1, 3)[rows.pixel], atol=1e-5)


EYES = [[0.0, 0.0, 0.0], [0.6, 0.1, 0.2], [-0.5, 0.3, 0.1], [0.2, -0.6, 0.3], [-0.3, -0.4, -0.2], [0.5, 0.5, 0.4]]
SIZE = 8  # texels per side of the known texture


def synthetic(gains: np.ndarray, outliers: float = 0.0, seed: int = 0):
    """The known texture (SIZE^2, 3), views of the square under it (photo v scaled by gains[v],
    RGB; a share ``outliers`` of its pixels replaced by random colours) and the texture's taps."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.2, 0.8, (SIZE * SIZE, 3))
    taps = atlas_taps(FACES, UV, SIZE)
    views = []
    for eye, g in zip(EYES, gains):
        cam = camera(eye)
        rows = render_rows(VERTS, FACES, [photo(cam, np.zeros((24, 24, 3)))], taps, SIZE * SIZE)
        image = np.zeros((24 * 24, 3))
        image[rows.pixel] = g * (rows.matrix @ truth)
        bad = rows.pixel[rng.random(len(rows.pixel)) < outliers]
        image[bad] = rng.random((len(bad), 3))
        views.append(photo(cam, image.reshape(24, 24, 3)))
    return truth, views, taps


def fit(views, taps, **kwargs):
    rows = render_rows(VERTS, FACES, views, taps, SIZE * SIZE)
    rows = rows.subset(rows.coverage == 1.0)  # a partly covered pixel also shows the background
    return fit_colors(rows, np.full((SIZE * SIZE, 3), 0.5), len(views), **kwargs)


def known_gains(seed: int = 2) -> np.ndarray:
    """Per-view RGB gains between about 0.7 and 1.4, geometric mean 1 per channel."""
    g = np.exp(np.random.default_rng(seed).uniform(-0.35, 0.35, (len(EYES), 3)))
    return g / np.exp(np.log(g).mean(axis=0))


def test_fit_recovers_texture_and_gains_exactly_without_noise():
    gains = known_gains()
    truth, views, taps = synthetic(gains)
    out = fit(views, taps, damping=1e-9, rounds=6, steps=200)
    assert out.read.all()
    np.testing.assert_allclose(out.gains, gains, atol=1e-4)
    np.testing.assert_allclose(out.colors, truth, atol=1e-4)


def test_fit_with_five_percent_outliers_stays_above_50_db():
    gains = known_gains()
    truth, views, taps = synthetic(gains, outliers=0.05)
    robust = fit(views, taps)  # the defaults: damping, rounds and steps as an export uses them
    plain = fit(views, taps, robust=False)
    assert psnr(robust.colors, truth) > 50.0  # the damping towards x0 (grey) is what is left
    assert psnr(plain.colors, truth) < 35.0  # least squares alone follows the outliers
    np.testing.assert_allclose(robust.gains, gains, atol=0.002)


def test_gains_stay_one_under_constant_exposure():
    _, views, taps = synthetic(np.ones((len(EYES), 3)), outliers=0.05, seed=3)
    out = fit(views, taps)
    np.testing.assert_allclose(out.gains, 1.0, atol=0.005)


def test_unread_texels_keep_the_prior():
    _, views, _ = synthetic(np.ones((1, 3)))
    rows = render_rows(VERTS, FACES, views[:1], atlas_taps(FACES, UV, 256), 256 * 256)  # far more texels than rays
    prior = np.full((256 * 256, 3), 0.25)
    out = fit_colors(rows, prior, 1)
    assert 0 < out.read.sum() < 256 * 256 / 4
    np.testing.assert_array_equal(out.colors[~out.read], 0.25)
