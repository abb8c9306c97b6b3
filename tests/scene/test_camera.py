"""The one in-image rule: pixel (i, j) covers [i - 0.5, i + 0.5) x [j - 0.5, j + 0.5) (FORMATS.md)."""

from __future__ import annotations

import numpy as np

from dvr_cli.scene.camera import Camera


def camera() -> Camera:
    return Camera(np.array([[10.0, 0, 1.5], [0, 10.0, 1.0], [0, 0, 1]]), np.eye(3), np.zeros(3), 4, 3)


def test_in_image_covers_half_a_pixel_beyond_the_outer_centres():
    cam = camera()
    uv = np.array([[-0.5, -0.5], [3.4999, 2.4999], [3.5, 0.0], [0.0, 2.5], [-0.5001, 1.0], [np.nan, 1.0]])
    assert cam.in_image(uv).tolist() == [True, True, False, False, False, False]
    # margin 0.5: only points whose bilinear lookup reads pixels of the image, u in [0, W - 1)
    inner = np.array([[0.0, 0.0], [2.9999, 1.9999], [3.0, 1.0], [-0.01, 1.0]])
    assert cam.in_image(inner, margin=0.5).tolist() == [True, True, False, False]


def test_pixel_index_and_project_depth_agree_with_the_rule():
    cam = camera()
    assert Camera.pixel_index(np.array([[-0.5, 0.49], [0.5, 2.4999]])).tolist() == [[0, 0], [1, 2]]
    X = np.array([[0.0, 0.0, 2.0], [0.3, -0.2, 2.0], [0.0, 0.0, -1.0]])
    uv, depth = cam.project_depth(X)
    np.testing.assert_allclose(uv[:2], [[1.5, 1.0], [3.0, 0.0]])  # u = 10 * 0.3 / 2 + 1.5
    assert depth.tolist() == [2.0, 2.0, -1.0] and np.isfinite(uv).all()  # behind the camera: finite, flagged by depth
