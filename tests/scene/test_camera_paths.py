"""Novel-view camera paths (dvr_cli/scene/camera_paths.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dvr_cli.errors import DvrError
from dvr_cli.scene.camera import Camera, look_at
from dvr_cli.scene.camera_paths import average_up, orbit_cameras

CENTER = np.array([0.5, -1.0, 2.0])
UP = np.array([0.0, 1.0, 0.0])  # not z: the orbit must follow the cameras' up
K = np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])


def ring(n=6, distance=3.0, elevation=np.radians(30)) -> list[Camera]:
    cams = []
    for i, az in enumerate(0.3 + np.linspace(0, 2 * np.pi, n, endpoint=False)):  # around: up tilts cancel
        d = np.cos(elevation) * np.array([np.cos(az), 0, np.sin(az)]) + np.sin(elevation) * UP
        R, t = look_at(CENTER + distance * d, CENTER, UP)
        cams.append(Camera(K, R, t, 64, 48, name=f"{i}.png"))
    return cams


def test_orbit_follows_the_training_cameras():
    cams = orbit_cameras(ring(), 8, 32, 24, center=CENTER)
    assert len(cams) == 8 and all((c.width, c.height) == (32, 24) for c in cams)
    for c in cams:
        # Looks at the centre: it projects onto the principal point.
        assert np.allclose(c.project(CENTER[None])[0], c.K[:2, 2], atol=1e-9)
        offset = c.center - CENTER
        assert np.linalg.norm(offset) == pytest.approx(3.0)
        assert np.degrees(np.arcsin(offset @ UP / 3.0)) == pytest.approx(30.0)
        assert -c.R[1] @ UP > 0.8  # image up is the scene's up
    assert cams[0].K[0, 0] == pytest.approx(25.0)  # intrinsics scaled with the size
    azimuths = [np.arctan2(c.center[2] - CENTER[2], c.center[0] - CENTER[0]) for c in cams]
    assert azimuths[0] == pytest.approx(0.3)  # starts at the first training camera
    assert np.allclose(np.abs(np.diff(np.unwrap(azimuths))), 2 * np.pi / 8)  # evenly spaced


def test_orbit_rejects_zero_frames():
    with pytest.raises(DvrError, match="--frames"):
        orbit_cameras(ring(), 0)


def test_up_directions_that_cancel_out_are_refused():
    R, t = look_at(np.array([0.0, 0.0, -3.0]), np.zeros(3), UP)
    flipped = Camera(K, np.diag([-1.0, -1.0, 1.0]) @ R, t, 64, 48)  # rolled half a turn: image up reversed
    with pytest.raises(DvrError, match="cancel out"):
        average_up([Camera(K, R, t, 64, 48), flipped])
