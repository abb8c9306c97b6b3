"""Sparse points from photos with known cameras: on the example's true surface, seen by the
views that list them; the run folder caches them."""

from __future__ import annotations

import numpy as np
import pytest

from calib_helpers import read_views, scene_radius, true_cameras
from dvr_cli.calib.triangulate import MIN_TRACK, SparsePoints, triangulate
from dvr_cli.evaluate.geometry import distance_to_mesh, load_mesh


@pytest.mark.slow
def test_triangulated_points_lie_on_the_true_surface(example_fine, tmp_path):
    paths, images, masks = read_views(example_fine)
    truth = true_cameras(example_fine)
    cameras = [truth[p.name] for p in paths]
    sparse = triangulate(images, cameras, tmp_path / "work")
    radius = scene_radius(example_fine)
    assert len(sparse.points) > 500, len(sparse.points)
    dist = distance_to_mesh(sparse.points, *load_mesh(example_fine / "mesh.ply"))
    # 320x240 photos: a pixel is ~0.6 % of the radius at the object's distance
    assert np.median(dist) < 0.003 * radius and np.percentile(dist, 99) < 0.03 * radius, np.percentile(dist, [50, 99])
    assert np.bincount(sparse.point).min() >= MIN_TRACK
    # every observation is where its view sees the point: inside that view's true mask
    for k in np.unique(sparse.view)[::5]:
        uv = np.round(cameras[k].project(sparse.points[sparse.point[sparse.view == k]])).astype(int)
        assert masks[k][uv[:, 1], uv[:, 0]].mean() > 0.98

    sparse.save(tmp_path / "points.npz")
    again = SparsePoints.load(tmp_path / "points.npz")
    assert np.array_equal(again.points, sparse.points) and np.array_equal(again.view, sparse.view)


def test_too_few_photos_give_no_points(example_small):
    paths, images, _ = read_views(example_small)
    truth = true_cameras(example_small)
    sparse = triangulate(images[:2], [truth[p.name] for p in paths[:2]])
    assert len(sparse.points) == 0 and len(sparse.view) == 0
