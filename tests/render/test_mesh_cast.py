"""Ray casting a mesh: a camera's pixels hit a known plane at known depths and distances."""

from __future__ import annotations

import numpy as np

from dvr_cli.render.mesh import cast_camera, raycasting_scene, visible_from
from dvr_cli.scene.camera import Camera

#: A square at z = 2, two triangles, wider than the camera's view.
VERTS = np.array([[-5.0, -5.0, 2.0], [5.0, -5.0, 2.0], [5.0, 5.0, 2.0], [-5.0, 5.0, 2.0]])
FACES = np.array([[0, 1, 2], [0, 2, 3]])


def test_pixels_hit_the_plane_at_its_depth_and_their_ray_length():
    camera = Camera(np.array([[8.0, 0.0, 3.5], [0.0, 8.0, 2.5], [0.0, 0.0, 1.0]]), np.eye(3), np.zeros(3), 8, 6)
    hits = cast_camera(raycasting_scene(VERTS, FACES), camera)
    assert hits.z.shape == hits.distance.shape == hits.face.shape == (6, 8) and hits.bary.shape == (6, 8, 3)
    np.testing.assert_allclose(hits.z, 2.0, rtol=1e-6)
    # pixel (0, 0) looks along (-3.5 / 8, -2.5 / 8, 1): distance 2 |(-0.4375, -0.3125, 1)|
    assert abs(hits.distance[0, 0] - 2.0 * np.linalg.norm([-0.4375, -0.3125, 1.0])) < 1e-5
    assert (hits.face >= 0).all() and np.allclose(hits.bary.sum(axis=2), 1.0, atol=1e-6)


def test_a_camera_looking_away_misses_and_a_point_behind_the_plane_is_hidden():
    turned = Camera(
        np.array([[8.0, 0.0, 3.5], [0.0, 8.0, 2.5], [0.0, 0.0, 1.0]]), np.diag([1.0, -1.0, -1.0]), np.zeros(3), 8, 6
    )
    hits = cast_camera(raycasting_scene(VERTS, FACES), turned)
    assert np.isinf(hits.z).all() and (hits.face == -1).all()
    # a second square at z = 3: its point is seen from above, hidden behind the first from the origin
    scene = raycasting_scene(np.concatenate([VERTS, VERTS + [0.0, 0.0, 1.0]]), np.concatenate([FACES, FACES + 4]))
    on_back = np.array([[0.5, 0.5, 3.0]])
    assert (
        visible_from(scene, on_back, np.array([0.0, 0.0, 4.0]))[0] and not visible_from(scene, on_back, np.zeros(3))[0]
    )
