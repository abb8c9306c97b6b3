"""Checkerboard calibration recovers a known camera from synthetic board photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from boards import DIST_TRUE, K_TRUE, PATTERN, SQUARE, H, W, board_poses, render_board
from dvr_cli.calib.checkerboard import calibrate_checkerboard, load_intrinsics
from dvr_cli.errors import DvrError


@pytest.fixture(scope="module")
def board_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("boards")
    paths = []
    for k, (eye, target) in enumerate(board_poses()):
        path = folder / f"board_{k:02d}.png"
        cv2.imwrite(str(path), render_board(eye, target))
        paths.append(path)
    return paths


def test_recovers_known_intrinsics(board_images, tmp_path):
    result = calibrate_checkerboard(board_images, PATTERN, SQUARE)
    assert len(result.per_image) == len(board_images)
    focal_err = abs(result.K[0, 0] - K_TRUE[0, 0]) / K_TRUE[0, 0]
    assert focal_err < 0.01, (result.K, focal_err)
    assert abs(result.K[1, 1] - K_TRUE[1, 1]) / K_TRUE[1, 1] < 0.01
    assert abs(result.K[0, 2] - K_TRUE[0, 2]) < 3 and abs(result.K[1, 2] - K_TRUE[1, 2]) < 3
    assert result.rms < 0.5
    assert max(result.per_image.values()) < 0.5
    # The distortion must undo the lens where the boards were seen: near-corner pixels, which the
    # true lens displaces by ~13 px, undistort to within 2 px of where the true model sends them.
    near_corners = np.array([[[60.0, 60.0]], [[580.0, 60.0]], [[60.0, 420.0]], [[580.0, 420.0]]])
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
    mine = cv2.undistortPoints(near_corners, result.K, result.dist, None, None, None, crit)
    true = cv2.undistortPoints(near_corners, K_TRUE, DIST_TRUE, None, None, None, crit)
    assert np.abs((mine - true) * K_TRUE[0, 0]).max() < 2.0

    saved = load_intrinsics(result.save(tmp_path / "intrinsics.json"))
    np.testing.assert_allclose(saved.K, result.K)
    np.testing.assert_allclose(saved.dist, result.dist)
    assert (saved.width, saved.height) == (W, H) and saved.rms == pytest.approx(result.rms)


def test_too_few_boards_is_a_user_error(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((H, W), 128, np.uint8))
    with pytest.raises(DvrError, match="found in 0 of 2"):
        calibrate_checkerboard([blank, blank], PATTERN, SQUARE)


def test_bad_intrinsics_file(tmp_path):
    path = tmp_path / "intrinsics.json"
    path.write_text('{"K": [[1, 0, 0]]}')
    with pytest.raises(DvrError, match="intrinsics.json"):
        load_intrinsics(path)
