"""Novel-view camera paths and frame writers (dvr_cli/render/views.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import sphere_field as sf
from dvr_cli.errors import DvrError
from dvr_cli.render.views import orbit_cameras, ray_to_z_depth, render_views, write_depth, write_video
from dvr_cli.scene.camera import Camera, look_at

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


def test_ray_length_to_z_depth():
    camera = ring()[0]
    u, v = np.meshgrid(np.arange(64), np.arange(48))
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
    ray_length = 2.0 * np.linalg.norm(rays, axis=-1)  # a plane at camera z = 2
    assert np.allclose(ray_to_z_depth(ray_length, camera, scale=3.0), 6.0)


def test_depth_png_and_npy(tmp_path):
    z = np.array([[0.0, 1.2345], [70.0, 2.0]], np.float32)
    npy = write_depth(tmp_path / "d.png", z)
    png = cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.tolist() == [[0, 1234], [65535, 2000]]
    assert np.array_equal(np.load(npy), z)


def test_video_has_every_frame(tmp_path):
    frames = [np.full((24, 32, 3), 20 * i, np.uint8) for i in range(5)]
    write_video(tmp_path / "v.mp4", frames, fps=10)
    capture = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    capture.release()


def test_render_views_writes_world_depth(tmp_path):
    run = sf.sphere_run(tmp_path / "run")
    R, t = look_at(sf.NORMALIZATION.center + [0.0, -5.0, 0.0], sf.NORMALIZATION.center, (0, 0, 1))
    camera = Camera([[40.0, 0, 15.5], [0, 40.0, 11.5], [0, 0, 1]], R, t, 32, 24, name="front.jpg")
    files = render_views(
        lambda cam: run.render(cam, n_samples=64),
        [camera],
        tmp_path / "out",
        what=("rgb", "depth", "normal", "mask"),
        transparent=True,
    )
    names = sorted(p.name for p in files)
    assert names == ["front.png", "front_depth.npy", "front_depth.png", "front_mask.png", "front_normal.png"]
    rgba = cv2.imread(str(tmp_path / "out" / "front.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (24, 32, 4) and rgba[0, 0, 3] == 0 and rgba[12, 16, 3] == 255
    z = np.load(tmp_path / "out" / "front_depth.npy")
    # Sphere of world radius 1 (0.5 * scale 2) seen from 5 away: nearest point at z = 4.
    assert z[11:13, 15:17].min() == pytest.approx(4.0, abs=0.01)
    normal = cv2.imread(str(tmp_path / "out" / "front_normal.png"))[..., ::-1] / 255.0 * 2 - 1
    assert normal[12, 16] @ [0, -1, 0] > 0.95  # faces the camera (at -y)
