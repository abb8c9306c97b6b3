"""Synthetic checkerboard photos for the lens-calibration tests: a 10x7-square board seen by a
known distorted camera (K_TRUE, DIST_TRUE)."""

from __future__ import annotations

import cv2
import numpy as np

from dvr_cli.scene.camera import look_at

W, H = 640, 480
K_TRUE = np.array([[520.0, 0, 322.0], [0, 518.0, 236.0], [0, 0, 1]])
DIST_TRUE = np.array([-0.12, 0.05, 0.001, -0.0008, 0.0])
PATTERN, SQUARE = (9, 6), 0.025
SUPERSAMPLE = 2


def render_board(eye, target, up=(0, 1, 0)) -> np.ndarray:
    """(H, W) uint8 photo of a 10x7-square board lying in z=0 (squares of SQUARE, origin at the
    first inner corner), seen by the distorted camera K_TRUE/DIST_TRUE at ``eye``.

    Each sub-pixel sample is undistorted to a ray, the ray meets the board plane, and the
    checker colour there is averaged over SUPERSAMPLE^2 samples (anti-aliasing).
    """
    R, t = look_at(np.array(eye), np.array(target), np.array(up))
    offs = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    shape = (H, W, SUPERSAMPLE, SUPERSAMPLE)
    su = np.broadcast_to(u[..., None, None] + offs[None, None, None, :], shape).ravel()
    sv = np.broadcast_to(v[..., None, None] + offs[None, None, :, None], shape).ravel()
    pix = np.stack([su, sv], 1).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
    xy = cv2.undistortPoints(pix, K_TRUE, DIST_TRUE, None, None, None, criteria).reshape(-1, 2)
    dirs = np.concatenate([xy, np.ones((len(xy), 1))], 1) @ R  # camera -> world: R^T d
    center = -R.T @ t
    lam = -center[2] / dirs[:, 2]
    X = center + lam[:, None] * dirs
    i, j = np.floor(X[:, 0] / SQUARE) + 1, np.floor(X[:, 1] / SQUARE) + 1  # square index, 0..9 x 0..6
    on_board = (i >= 0) & (i < PATTERN[0] + 1) & (j >= 0) & (j < PATTERN[1] + 1) & (lam > 0)
    # White margin of one square around the board, then a mid-grey table.
    margin = (i >= -1) & (i < PATTERN[0] + 2) & (j >= -1) & (j < PATTERN[1] + 2) & (lam > 0)
    value = np.where(margin, 1.0, 0.45)
    value = np.where(on_board & ((i + j) % 2 == 0), 0.05, value)
    img = value.reshape(H * W, SUPERSAMPLE * SUPERSAMPLE).mean(1).reshape(H, W)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def board_poses() -> list[tuple]:
    """Eye positions around the board centre with tilts of 0-40 degrees; the look-at point is
    shifted so the board lands in each image corner in turn (distortion is largest there)."""
    c = np.array([0.1, 0.0625, 0.0])
    poses = []
    for k, (tilt, az, dist) in enumerate(
        [
            (0, 0, 0.35),
            (30, 0, 0.32),
            (30, 90, 0.32),
            (35, 180, 0.33),
            (30, 270, 0.31),
            (40, 45, 0.34),
            (25, 135, 0.3),
            (38, 225, 0.33),
            (20, 315, 0.31),
        ]
    ):
        a, b = np.radians(tilt), np.radians(az)
        eye = c + dist * np.array([np.sin(a) * np.cos(b), np.sin(a) * np.sin(b), -np.cos(a)])
        target = c + np.array([0.045 * np.sign(np.cos(k + 0.5)), 0.03 * np.sign(np.sin(k + 0.5)), 0]) * (k > 0)
        poses.append((eye, target))
    return poses
