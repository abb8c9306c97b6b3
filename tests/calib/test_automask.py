"""Automatic masks (GrabCut + voting visual hull) against the example's true masks."""

from __future__ import annotations

import numpy as np
from PIL import Image

from dvr_cli.calib.automask import auto_masks, carve, write_masks
from dvr_cli.runtime import open3d

from calib_helpers import read_views, true_cameras


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_masks_from_true_cameras_and_surface_points(example_masks, tmp_path):
    paths, images, truth = read_views(example_masks)
    cams = true_cameras(example_masks)
    cameras = [cams[p.name] for p in paths]
    # Stand-ins for SfM points: 400 vertices of the true surface.
    mesh = open3d().io.read_triangle_mesh(str(example_masks / "mesh.ply"))
    vertices = np.asarray(mesh.vertices)
    points = vertices[np.random.default_rng(0).choice(len(vertices), 400, replace=False)]

    masks = auto_masks(images, cameras, points)
    scores = [iou(m, t) for m, t in zip(masks, truth)]
    assert np.mean(scores) >= 0.95 and min(scores) >= 0.9, scores

    written = write_masks(masks, [p.name for p in paths], tmp_path / "masks")
    assert (np.asarray(Image.open(written[3])) > 127).sum() == masks[3].sum()


def test_hull_vote_survives_one_bad_view(example_masks):
    paths, _, truth = read_views(example_masks)
    cams = true_cameras(example_masks)
    cameras = [cams[p.name] for p in paths]
    masks = [t.copy() for t in truth]
    masks[0][:] = False  # one view sees nothing: an AND hull would be empty
    mesh = open3d().io.read_triangle_mesh(str(example_masks / "mesh.ply"))
    lo, hi = np.asarray(mesh.get_min_bound()), np.asarray(mesh.get_max_bound())
    pad = 0.1 * (hi - lo)
    centres, side = carve(cameras, masks, np.stack([lo - pad, hi + pad]), resolution=32, vote=0.8)
    # The kept voxels fill about the mesh's volume.
    volume = len(centres) * side**3
    mesh_volume = mesh.get_volume()
    assert 0.9 * mesh_volume < volume < 1.6 * mesh_volume, (volume, mesh_volume)
