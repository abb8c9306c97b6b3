"""The object-centred, z-up, unit-radius frame chosen from a (randomly posed) sparse model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from calib_helpers import scene_radius, true_cameras
from dvr_cli.calib.align import transform_camera
from dvr_cli.calib.frame import choose_frame, common_focus, rotation_to_z
from dvr_cli.runtime import open3d


def test_rotation_to_z():
    for v in ([1.0, 0, 0], [0, 0, -1.0], [0.3, -0.4, 0.866], [0, 0, 1.0]):
        v = np.array(v) / np.linalg.norm(v)
        R = rotation_to_z(v)
        np.testing.assert_allclose(R @ v, [0, 0, 1], atol=1e-12)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)


def test_frame_of_a_randomly_posed_model(example_masks):
    cams = list(true_cameras(example_masks).values())
    mesh = open3d().io.read_triangle_mesh(str(example_masks / "mesh.ply"))
    rng = np.random.default_rng(0)
    surface = np.asarray(mesh.vertices)[rng.choice(len(mesh.vertices), 500, replace=False)]
    center_true = np.asarray(mesh.get_axis_aligned_bounding_box().get_center())
    radius_true = scene_radius(example_masks)
    # 40 background points far behind the object (a wall the SfM also reconstructed).
    wall = center_true + rng.uniform(-6, 6, (40, 3)) * radius_true + np.array([0, 0, -8 * radius_true])
    points = np.concatenate([surface, wall])
    tracks = np.full(len(points), 4)

    # The SfM frame: an arbitrary similarity of the world.
    s0, R0, t0 = 0.37, Rotation.from_euler("xyz", [70, -20, 140], degrees=True).as_matrix(), np.array([3.0, -1, 2])
    sfm_cams = [transform_camera(c, s0, R0, t0) for c in cams]
    sfm_points = s0 * points @ R0.T + t0

    frame = choose_frame(sfm_cams, sfm_points, tracks)
    assert frame.inliers[:500].mean() > 0.97 and not frame.inliers[500:].any()
    # Up: the world's +z (the cameras' up) comes back as +z.
    world_z_now = frame.R @ R0 @ np.array([0, 0, 1.0])
    assert np.degrees(np.arccos(world_z_now[2])) < 3.0
    # Centre near the origin (the box middle in the frame's yawed axes, not the world's, so not
    # exactly the world box's middle) and radius ~1 in the new frame.
    c = frame.points(s0 * center_true[None] @ R0.T + t0)[0]
    assert np.linalg.norm(c) < 0.1
    moved = frame.points(sfm_points[:500])
    assert np.percentile(np.linalg.norm(moved, axis=1), 95) == pytest.approx(1.0, abs=0.01)
    assert np.all(frame.bbox[0] < moved.min(0)) and np.all(frame.bbox[1] > moved.max(0))
    assert np.all(frame.bbox[1] - frame.bbox[0] < 2.8)
    # Cameras move with the points: same pixels.
    cam = frame.camera(sfm_cams[0])
    np.testing.assert_allclose(cam.project(moved[:5]), cams[0].project(points[:5]), atol=1e-8)


def test_common_focus_of_cameras_looking_at_one_point(example_masks):
    cams = list(true_cameras(example_masks).values())
    focus = common_focus(cams)
    # The example's cameras all look at the mesh's bounding-sphere centre.
    assert np.linalg.norm(focus - cams[0].center) > 1.0
    rays = [np.linalg.norm(np.cross(c.forward, focus - c.center)) for c in cams]
    assert max(rays) < 1e-6
