"""Normalisation: visual hull, the cameras' common view point, and their failure modes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dvr_cli.errors import DvrError
from dvr_cli.scene import Camera, load_scene, look_at
from dvr_cli.scene.normalise import choose_normalization, common_view_point, from_bbox, from_cameras


def test_visual_hull_holds_and_fills_the_object(example_small):
    # transforms.json carries masks but no bbox, so the normalisation comes from the masks
    scene = load_scene(example_small, cameras=example_small / "transforms.json")
    norm = scene.normalization
    assert norm.source == "visual_hull"
    lo, hi = np.array(json.loads((example_small / "example.json").read_text())["mesh_bbox"])
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    unit = norm.to_unit(corners)
    assert np.all(np.abs(unit) <= 1.0)  # the whole object is inside the cube
    assert np.max(unit.max(0) - unit.min(0)) >= 1.0  # and fills at least half of it
    hull = np.array(scene.meta["bbox"])
    assert np.all(hull[0] <= lo + 1e-9) and np.all(hull[1] >= hi - 1e-9)


def _ring(target, n=6, distance=4.0, size=40, f=40.0):
    cameras = []
    for i in range(n):
        a = 2 * np.pi * i / n
        eye = np.asarray(target) + distance * np.array([np.cos(a), np.sin(a), 0.3 + 0.2 * np.sin(2 * a)])
        R, t = look_at(eye, target)
        cameras.append(
            Camera([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]], R, t, size, size, name=f"{i}.png")
        )
    return cameras


def test_common_view_point_is_where_the_axes_meet():
    target = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(common_view_point(_ring(target)), target, atol=1e-9)
    norm = from_cameras(_ring(target))
    # each view sees +-(W/2)/f = 0.5 times the target's depth, 4 sqrt(1 + h^2) with h its height
    heights = 0.3 + 0.2 * np.sin(2 * 2 * np.pi * np.arange(6) / 6)
    assert norm.source == "cameras"
    assert norm.scale == pytest.approx(np.median(0.5 * 4.0 * np.sqrt(1 + heights**2)), rel=1e-9)


def test_parallel_cameras_cannot_locate_the_object():
    cameras = [
        Camera(np.diag([30.0, 30.0, 1.0]) + [[0, 0, 15], [0, 0, 15], [0, 0, 0]], np.eye(3), [x, 0, 2], 32, 32)
        for x in (0.0, 0.5, 1.0)
    ]
    with pytest.raises(DvrError, match="parallel"):
        common_view_point(cameras)


def test_empty_visual_hull_is_an_error():
    cameras = _ring([0.0, 0.0, 0.0])
    masks = [np.zeros((40, 40), bool) for _ in cameras]
    with pytest.raises(DvrError, match="visual hull is empty"):
        choose_normalization(cameras, masks)


def test_bbox_beats_masks_and_given_normalisation_beats_bbox():
    cameras = _ring([0.0, 0.0, 0.0])
    box = np.array([[-1.0, -0.5, 0.0], [1.0, 0.5, 0.4]])
    norm, bbox = choose_normalization(cameras, [None] * len(cameras), bbox=box)
    np.testing.assert_allclose(norm.center, [0, 0, 0.2])
    assert norm.scale == pytest.approx(1.1) and norm.source == "bbox"
    given = from_bbox(box * 2, "scale_mat")
    assert choose_normalization(cameras, [None] * len(cameras), bbox=box, given=given)[0] is given
