"""Field colours of a mesh: read with the normals the fit shaded with, from the cameras that see the point."""

from __future__ import annotations

import numpy as np
import torch

from dvr_cli.fields.base import Field
from dvr_cli.mesh.color import field_colors
from dvr_cli.render.mesh import raycasting_scene, visible_from

RADIUS = 0.5


class TiltedShading(Field):
    """A sphere (its occupancy gradient is radial) whose shading normals all point along +z, as
    finite differences over a coarse step can differ from the gradient; its colour shows the
    normal it is shaded with and the view direction: rgb = (n + 1) / 2 * 0.5 + (w + 1) / 2 * 0.5."""

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        return 10.0 * (RADIUS - points.norm(dim=1))

    def shading_normals(self, points: torch.Tensor) -> torch.Tensor:
        return torch.tensor([0.0, 0.0, 1.0]).expand(len(points), 3)

    def texture(self, points, dirs=None, normals=None):
        n = self.shading_normals(points) if normals is None else normals
        return 0.25 * (n + 1) + 0.25 * (dirs + 1)


def test_field_colours_read_the_shading_normals():
    points = np.array([[RADIUS, 0.0, 0.0], [0.0, RADIUS, 0.0]])
    # No camera: seen head-on along -n with n the shading normal (+z), not the radial gradient.
    np.testing.assert_allclose(field_colors(TiltedShading(), points), [[0.5, 0.5, 0.5]] * 2, atol=1e-6)
    # A camera above: it faces the shading normal (the gradient's normal would make it grazing).
    colours = field_colors(TiltedShading(), points, np.array([[0.0, 0.0, 3.0]]))
    w = points - [0.0, 0.0, 3.0]
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_allclose(colours, 0.25 * np.array([1.0, 1.0, 2.0]) + 0.25 * (w + 1), atol=1e-5)


def test_field_colours_skip_cameras_that_do_not_see_the_point():
    # A plane at z = 0 (facing +z) seen from two cameras, one of them behind a small occluder.
    plane = np.array([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 1.0, 0.0]])
    blocker = np.array([[-0.1, -0.1, 0.5], [0.1, -0.1, 0.5], [0.1, 0.1, 0.5], [-0.1, 0.1, 0.5]])
    verts = np.concatenate([plane, blocker])
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    scene = raycasting_scene(verts, faces)
    point = np.array([[0.0, 0.0, 0.0]])
    open_cam, blocked_cam = np.array([2.0, 0.0, 2.0]), np.array([0.0, 0.0, 2.0])
    assert visible_from(scene, point, open_cam)[0] and not visible_from(scene, point, blocked_cam)[0]

    class Flat(TiltedShading):
        def occupancy_logits(self, points):
            return -10.0 * points[:, 2]

    seen = field_colors(Flat(), point, np.stack([open_cam, blocked_cam]), lambda p, c: visible_from(scene, p, c))
    w = -open_cam / np.linalg.norm(open_cam)
    np.testing.assert_allclose(seen[0], 0.25 * np.array([1.0, 1.0, 2.0]) + 0.25 * (w + 1), atol=1e-5)
