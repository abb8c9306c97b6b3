"""A plane is the support only when it reaches past the object's outline (a table, a wall), not
when the object's own outline bounds it (a plinth's flat top)."""

from __future__ import annotations

import numpy as np

from dvr_cli.calib.support import points_reach, reaches_past, verdict
from dvr_cli.scene.camera import Camera, look_at


def _camera(eye) -> Camera:
    R, t = look_at(np.asarray(eye, float), np.zeros(3), up=(0, 0, 1))
    return Camera(np.array([[80.0, 0, 63.5], [0, 80.0, 47.5], [0, 0, 1]]), R, t, 128, 96)


def test_a_table_reaches_past_the_object_a_plinth_top_does_not():
    """The object's points include the plinth's top (they are the object's points); a table's
    points reach past their outline in every view, the top's in none."""
    rng = np.random.default_rng(0)
    cameras = [_camera((3 * np.cos(a), 3 * np.sin(a), 1.5)) for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
    sphere = rng.normal(size=(400, 3))
    sphere = 0.3 * sphere / np.linalg.norm(sphere, axis=1, keepdims=True) + [0, 0, 0.3]
    table = np.column_stack([rng.uniform(-4, 4, (3000, 2)), np.zeros(3000)])
    top = np.column_stack([rng.uniform(-0.45, 0.45, (300, 2)), np.zeros(300)])
    assert points_reach(table, sphere, cameras) == 1.0
    assert points_reach(top, np.concatenate([sphere, top]), cameras) == 0.0
    assert verdict(1.0) == "support" and verdict(0.3) == "ambiguous" and verdict(0.0) == "object"
    assert verdict(None) == "ambiguous"
    # with the share of the object's points beyond the plane: nothing beyond, the support; the object
    # going on beyond it, never the support
    assert verdict(0.0, beyond=0.0) == "support" and verdict(1.0, beyond=0.01) == "ambiguous"
    assert verdict(0.1, beyond=0.01) == "object"


def test_a_view_filled_by_the_object_cannot_tell():
    corners = np.array([[2.0, 2.0], [125.0, 94.0], [2.0, 94.0], [125.0, 2.0]])
    assert reaches_past(np.array([[1.0, 1.0]] * 5), corners, 128, 96) is None
    middle = np.array([[50.0, 40.0], [70.0, 60.0], [50.0, 60.0], [70.0, 40.0]])
    assert reaches_past(np.array([[10.0, 10.0]] * 200), middle, 128, 96) is True
    assert reaches_past(np.array([[47.0, 38.0]] * 5), middle, 128, 96) is False  # within the grown outline
