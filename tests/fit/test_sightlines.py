"""Sight lines of sparse points: where the empty segments start and end, where their points'
far sides lie, which points they keep (the fit's use of them: test_shapes.py, the cup's pit)."""

from __future__ import annotations

import numpy as np
import torch

from dvr_cli.calib.triangulate import SparsePoints
from dvr_cli.fit.sightlines import MARGIN, MAX_MARGIN, sight_lines
from dvr_cli.scene.camera import Camera, look_at

SIZE = 1280  # pixels across: a point 4 units away, seen from 90 degrees apart, has a depth sigma of 0.005


def _camera(eye) -> Camera:
    R, t = look_at(np.asarray(eye, dtype=np.float64), np.zeros(3))
    K = np.array([[800.0, 0, 639.5], [0, 800.0, 639.5], [0, 0, 1]])
    return Camera(K, R, t, SIZE, SIZE)


def test_segments_run_from_the_cube_to_just_short_of_the_point():
    cameras = [_camera([4.0, 0, 0]), _camera([0, 4.0, 0]), _camera([3.0, 3.0, 0]), _camera([4.0, 0.4, 0])]
    masks = [np.ones((SIZE, SIZE), bool)] * 4
    points = np.array(
        [
            [0.2, 0.1, 0.0],  # seen from 90 degrees apart: kept
            [0.0, 0.0, 0.3],  # from 45 degrees apart: 2 sigma of depth 0.015 <= MARGIN, kept
            [0.0, 0.0, -0.3],  # from 6 degrees apart: 2 sigma 0.096 > MAX_MARGIN, dropped
            [0.0, 0.3, 0.0],  # seen by one camera: no depth, dropped
            [3.0, 0.0, 0.0],
        ]
    )  # outside the unit cube: dropped
    view = np.array([0, 1, 2, 0, 2, 0, 3, 0, 0])
    point = np.array([0, 0, 0, 1, 1, 2, 2, 3, 4])
    sparse = SparsePoints(points, view, point)
    lines = sight_lines(sparse, cameras, masks, lambda X: X, "cpu")
    assert len(lines) == 5  # the observations of points 0 and 1
    starts, ends = lines.starts.numpy(), lines.ends.numpy()
    assert np.allclose(np.abs(starts).max(axis=1), 1.0, atol=1e-5)  # on the cube's surface
    expected_ends = []
    for o in range(5):
        c, X = cameras[view[o]].center, points[point[o]]
        expected_ends.append(X - MARGIN * (X - c) / np.linalg.norm(X - c))
    assert np.allclose(ends, expected_ends, atol=1e-5)
    expected_behind = [2 * X - e for X, e in zip(points[point[:5]], expected_ends)]  # MARGIN past the point
    assert np.allclose(lines.behind.numpy(), expected_behind, atol=1e-5)
    free, solid = (x.numpy() for x in lines.sample(1000, torch.Generator().manual_seed(0)))
    # every free sample lies on one of the segments, with that segment's point behind
    d = np.stack(
        [np.linalg.norm(np.cross(free - s, e - s), axis=1) / np.linalg.norm(e - s) for s, e in zip(starts, ends)]
    )
    line = d.argmin(axis=0)
    assert d.min(axis=0).max() < 1e-5 and np.allclose(solid, lines.behind.numpy()[line], atol=1e-6)


def test_a_point_of_uncertain_depth_is_kept_further_away():
    # seen from 15 degrees apart at 4 units with an 800-px focal length: depth sigma 4 / 800 / sin(15)
    # = 0.0193, so both its lines stop 2 sigma = 0.0386 short of it (more than MARGIN, under MAX_MARGIN)
    a = np.radians(15.0)
    cameras = [_camera([4.0, 0, 0]), _camera([4.0 * np.cos(a), 4.0 * np.sin(a), 0])]
    sparse = SparsePoints(np.zeros((1, 3)), np.array([0, 1]), np.array([0, 0]))
    lines = sight_lines(sparse, cameras, [np.ones((SIZE, SIZE), bool)] * 2, lambda X: X, "cpu")
    assert MARGIN < 0.0386 < MAX_MARGIN
    assert np.allclose(np.linalg.norm(lines.ends.numpy(), axis=1), 0.0386, atol=2e-4)
    assert np.allclose(np.linalg.norm(lines.behind.numpy(), axis=1), 0.0386, atol=2e-4)


def test_points_outside_the_observing_views_mask_are_dropped():
    cameras = [_camera([4.0, 0, 0]), _camera([0, 4.0, 0])]
    masks = [np.zeros((SIZE, SIZE), bool), np.ones((SIZE, SIZE), bool)]
    sparse = SparsePoints(np.array([[0.1, 0.1, 0.1]]), np.array([0, 1]), np.array([0, 0]))
    lines = sight_lines(sparse, cameras, masks, lambda X: X, "cpu")
    assert len(lines) == 1 and np.allclose(lines.starts.numpy()[0, 1], 1.0, atol=1e-5)  # from the second camera


def test_a_view_without_a_mask_keeps_what_it_sees():
    cameras = [_camera([4.0, 0, 0]), _camera([0, 4.0, 0])]
    sparse = SparsePoints(np.array([[0.1, 0.1, 0.1]]), np.array([0, 1]), np.array([0, 0]))
    lines = sight_lines(sparse, cameras, [None, np.zeros((SIZE, SIZE), bool)], lambda X: X, "cpu")
    assert len(lines) == 1 and np.allclose(lines.starts.numpy()[0, 0], 1.0, atol=1e-5)  # from the first camera
