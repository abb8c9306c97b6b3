"""Live renders: viewer cameras, the render queue and its time share, and a render from a
camera set on the server side that matches `dvr render` of the same camera."""

from __future__ import annotations

import json
import threading
import time

import cv2
import numpy as np
import pytest

from browser import free_port
from dvr_cli.cli import main
from dvr_cli.run import load_run
from dvr_cli.scene.camera import Camera, look_at
from dvr_cli.viewer import LiveRender, Pose, RenderSettings, Viewer, camera_of, pose_of, run_content
from dvr_cli.viewer import live as live_module
from dvr_cli.viewer.live import FULL, PREVIEW, Throttle


def test_camera_of_pose_of_round_trip():
    R, t = look_at(np.array([0.5, -2.0, 1.0]), np.zeros(3), up=(0, 0, 1))
    f = 40.0
    camera = Camera([[f, 0, 31.5], [0, f, 23.5], [0, 0, 1]], R, t, 64, 48)
    pose = pose_of(camera)
    assert pose.aspect == pytest.approx(64 / 48)
    assert pose.fov == pytest.approx(2 * np.arctan(24 / f))
    back = camera_of(pose, 64)
    assert (back.width, back.height) == (64, 48)
    np.testing.assert_allclose(back.K, camera.K, atol=1e-9)
    np.testing.assert_allclose(back.R, camera.R, atol=1e-9)
    np.testing.assert_allclose(back.t, camera.t, atol=1e-9)
    point = np.array([[0.1, 0.2, -0.3]])
    np.testing.assert_allclose(back.project(point), camera.project(point), atol=1e-6)
    portrait = camera_of(Pose(pose.wxyz, pose.position, pose.fov, 0.5), 100)
    assert (portrait.width, portrait.height) == (50, 100)


@pytest.mark.timing
def test_throttle_keeps_the_share():
    throttle = Throttle()
    assert throttle.ready()
    throttle.spent(0.1, share=0.25)  # 0.1 s of work may be followed by 0.3 s of rest
    assert not throttle.ready()
    assert throttle.next_start - time.monotonic() == pytest.approx(0.3, abs=0.05)


def test_render_queue_small_while_moving_full_at_rest_then_follows_the_field(monkeypatch):
    monkeypatch.setattr(live_module, "REST_AFTER_S", 0.05)
    live = LiveRender(RenderSettings())
    assert live.next_job() is None
    pose = Pose(np.array([1.0, 0, 0, 0]), np.array([0, 0, -3.0]), 0.8, 1.0)
    live.request("a", pose, lambda out, cam: None)
    assert live.next_job() == ("a", PREVIEW, True)
    client = live._clients["a"]
    client.done_version, client.done_level, client.done_field = client.version, PREVIEW, 0
    assert live.next_job() is None  # still moving
    time.sleep(0.06)
    assert live.next_job() == ("a", FULL, False)  # refined at rest: background work
    client.done_level = FULL
    assert live.next_job() is None
    live.field_changed()
    assert live.next_job() == ("a", FULL, False)  # background work: the fit moved on
    live.forget("a")
    assert live.next_job() is None


def world_camera(unit: Camera, normalization) -> Camera:
    """The world camera of a unit-frame camera (inverse of Camera.similarity)."""
    t = unit.t * normalization.scale - unit.R @ normalization.center
    return Camera(unit.K, unit.R, t, unit.width, unit.height, name="live.png")


@pytest.mark.slow
def test_live_render_of_a_server_side_camera_matches_dvr_render(viewer_run, tmp_path):
    run = load_run(viewer_run, device="cpu")
    settings = RenderSettings.of_config(run.cfg, full_size=40)
    viewer = Viewer("127.0.0.1", free_port(), settings, live="rgb")
    viewer.show(run_content(run))
    pose = pose_of(run.normalization.camera_to_unit(run.cameras[1]))
    delivered = []
    stop = threading.Event()
    worker = threading.Thread(target=viewer.serve, args=(run.model, stop))
    worker.start()
    try:
        start = time.monotonic()
        viewer.live.request("client", pose, lambda out, camera: delivered.append((time.monotonic(), out, camera)))
        while time.monotonic() - start < 60 and not any(cam.width == 40 for _, _, cam in delivered):
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
        viewer.stop()
    sizes = [max(cam.width, cam.height) for _, _, cam in delivered]
    assert sizes[:2] == [settings.preview_size, 40]  # small first, then refined at rest
    answered, out, camera = delivered[1]
    assert answered - start < 60
    cams = tmp_path / "cams.json"
    cams.write_text(json.dumps({"cameras": [world_camera(camera, run.normalization).to_json()]}))
    assert main(["render", str(viewer_run), "--view", str(cams), "--out", str(tmp_path / "r"), "--device", "cpu"]) == 0
    expected = cv2.imread(str(tmp_path / "r" / "live.png"))[..., ::-1] / 255.0
    assert expected.shape == out["rgb"].shape
    assert 0.05 < out["mask"].mean() < 0.95  # the object is in view
    assert np.abs(out["rgb"] - expected).max() <= 1.0 / 255 + 1e-6


class FakeCamera:
    position = wxyz = fov = None


class FakeClient:
    """What the viewer uses of a browser's handle when a frustum is clicked."""

    camera = FakeCamera()

    def atomic(self):
        import contextlib

        return contextlib.nullcontext()


def test_clicking_a_frustum_flies_there_and_shows_photo_and_render(viewer_run):
    run = load_run(viewer_run, device="cpu")
    viewer = Viewer("127.0.0.1", free_port(), RenderSettings.of_config(run.cfg), live="off")
    try:
        viewer.show(run_content(run))
        client = FakeClient()
        viewer._clicked(1, client)
        expected = pose_of(run.normalization.camera_to_unit(run.cameras[1]))
        np.testing.assert_allclose(client.camera.position, expected.position)
        np.testing.assert_allclose(client.camera.wxyz, expected.wxyz)
        assert viewer.compare.visible and viewer.compare.image.shape == (48, 48, 3)  # the photo first
        work, interactive = viewer.next_work()
        assert interactive
        work(run.model)
        pair = viewer.compare.image
        assert pair.shape == (48, 96, 3)
        rendered = run.render(run.cameras[1])["rgb"]
        assert np.abs(pair[:, 48:] / 255.0 - rendered).max() <= 1 / 255 + 1e-6
    finally:
        viewer.stop()
