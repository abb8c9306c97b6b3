"""The object apart from its supports, from surface points as a fit's depth maps give them: a
table, a wall, both, and nothing to separate (an object in the open)."""

from __future__ import annotations

import numpy as np
import pytest
from tabletop_scene import first_hits, table_and_wall_scene, tabletop_cameras

from dvr_cli.mesh.separate import ObjectRegion, separate_points
from dvr_cli.scene.types import Normalization

#: The unit frame of these captures: the cube [-1, 1]^3 around (0, 0, 0.5), what a fit models.
FRAME = Normalization(np.array([0.0, 0.0, 0.5]), 1.0, "bbox")


def depth_points(surfaces, cameras) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per camera: unit-frame surface points (H*W, 3), hit inside the cube (H*W,), object truth (H*W,)."""
    points, hits, truth = [], [], []
    for camera in cameras:
        X, first, hit = first_hits(surfaces, camera)
        X = FRAME.to_unit(X)
        hit &= np.all(np.abs(X) <= 1, axis=1)
        points.append(X)
        hits.append(hit)
        truth.append(hit & np.array([s.is_object for s in surfaces])[first])
    return points, hits, truth


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("table, wall", [(True, False), (False, True), (True, True)])
def test_the_object_apart_from_a_table_and_a_wall(table, wall, tmp_path):
    cameras = tabletop_cameras(10, (64, 48), azimuth=70.0)
    points, hits, truth = depth_points(table_and_wall_scene(wall=wall, table=table), cameras)
    unit = [FRAME.camera_to_unit(c) for c in cameras]
    found = separate_points(np.concatenate([p[h] for p, h in zip(points, hits)]), unit)
    assert found.region is not None, found.reason
    assert len(found.region.planes) == table + wall
    scores = [iou(h & found.region.contains(p), t) for p, h, t in zip(points, hits, truth)]
    assert min(scores) >= 0.95, np.round(scores, 3)
    saved = ObjectRegion.load(found.region.save(tmp_path / "object.npz"))
    assert np.array_equal(saved.cells, found.region.cells) and np.allclose(saved.planes, found.region.planes)


def test_an_object_in_the_open_is_not_separated():
    cameras = tabletop_cameras(10, (64, 48))
    points, hits, _ = depth_points(table_and_wall_scene(wall=False, table=False), cameras)
    found = separate_points(np.concatenate([p[h] for p, h in zip(points, hits)]),
                            [FRAME.camera_to_unit(c) for c in cameras])
    assert found.region is None and found.reason == "no table, floor or wall found"
