"""Umeyama similarity alignment and pose errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dvr_cli.calib.align import pose_errors, transform_camera, umeyama
from dvr_cli.scene.camera import Camera, look_at


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    R = Rotation.from_euler("xyz", [30, -50, 110], degrees=True).as_matrix()
    s, t = 2.5, np.array([1.0, -3.0, 0.5])
    dst = s * src @ R.T + t
    s_hat, R_hat, t_hat = umeyama(src, dst)
    assert s_hat == pytest.approx(2.5, rel=1e-10)
    np.testing.assert_allclose(R_hat, R, atol=1e-10)
    np.testing.assert_allclose(t_hat, t, atol=1e-10)


def test_umeyama_never_returns_a_reflection():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 3))
    dst = src * np.array([1, 1, -1])  # a mirror image: the best rotation, not the mirror
    _, R, _ = umeyama(src, dst)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_umeyama_rejects_bad_shapes():
    with pytest.raises(ValueError):
        umeyama(np.zeros((2, 3)), np.zeros((2, 3)))


def test_pose_errors_are_zero_up_to_a_similarity():
    K = np.array([[100.0, 0, 50], [0, 100, 40], [0, 0, 1]])
    truth = []
    for a in np.linspace(0, 2 * np.pi, 7)[:-1]:
        R, t = look_at([3 * np.cos(a), 3 * np.sin(a), 1.0], [0, 0, 0])
        truth.append(Camera(K, R, t, 100, 80))
    Rs = Rotation.from_euler("zyx", [10, 20, 30], degrees=True).as_matrix()
    moved = [transform_camera(c, 0.3, Rs, np.array([5.0, 0, -2])) for c in truth]
    X = np.array([[0.2, -0.1, 0.3]])
    np.testing.assert_allclose(moved[0].project(0.3 * X @ Rs.T + [5.0, 0, -2]), truth[0].project(X), atol=1e-9)
    err = pose_errors(moved, truth)
    assert err["rotation_deg"].max() < 1e-6 and err["center"].max() < 1e-9
    assert err["s"] == pytest.approx(1 / 0.3)
