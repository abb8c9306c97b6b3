"""`dvr view` on a fitted run, opened in headless Chromium: the page draws the surface and the
camera frustums (asserted from the pixels). `make viewer-picture` runs it with DVR_VIEWER_PICTURE set
to docs/viewer.png, the guide's picture, and the screenshot is saved there; otherwise nothing is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser import Browser, chromium_path, free_port
from dvr_cli.scene.camera import Camera, look_at
from dvr_cli.viewer.app import HELDOUT_COLOR, TRAIN_COLOR
from dvr_cli.viewer.cameras import pose_of

WIDTH, HEIGHT = 960, 640
HIDE_NOTIFICATIONS = (
    "document.head.insertAdjacentHTML('beforeend', "
    "'<style>[class*=Notifications-root]{display:none !important}</style>')"
)


def color_pixels(image: np.ndarray, color, tol: int = 40) -> np.ndarray:
    """(H, W) bool: pixels within ``tol`` of ``color`` in every channel."""
    return (np.abs(image.astype(int) - np.asarray(color)) <= tol).all(axis=-1)


def changed(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels that are not the empty scene's white."""
    return (255 - image.astype(int)).sum(axis=-1) > 30


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value is not None:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def mesh_footprint(mesh_path: Path, run: Path) -> np.ndarray:
    """(H, W) bool: where the page's first view (its initial camera) sees the mesh's vertices."""
    import trimesh

    from dvr_cli.run import load_run
    from dvr_cli.scene.camera_paths import average_up
    from dvr_cli.viewer.app import overview_eye

    loaded = load_run(run, device="cpu")
    cameras = [loaded.normalization.camera_to_unit(c) for c in loaded.cameras]
    up = average_up(cameras)
    R, t = look_at(overview_eye(cameras, up), np.zeros(3), up)
    f = (HEIGHT / 2) / np.tan(pose_of(cameras[0]).fov / 2)
    page = Camera([[f, 0, (WIDTH - 1) / 2], [0, f, (HEIGHT - 1) / 2], [0, 0, 1]], R, t, WIDTH, HEIGHT)
    u, v = np.round(page.project(loaded.normalization.to_unit(trimesh.load(mesh_path).vertices))).astype(int).T
    inside = (u >= 0) & (u < WIDTH) & (v >= 0) & (v < HEIGHT)
    footprint = np.zeros((HEIGHT, WIDTH), bool)
    footprint[v[inside], u[inside]] = True
    return footprint


@pytest.mark.slow
def test_view_draws_surface_and_frustums_in_chromium(viewer_example, viewer_run):
    if chromium_path() is None:  # a failure, not a skip: CI must run this test
        pytest.fail("Debian's chromium is not installed: `make chromium` (as root) installs it; `make test` does")
    mesh = viewer_run / "export" / "mesh.ply"
    mesh.parent.mkdir(exist_ok=True)
    shutil.copy(viewer_example / "mesh.ply", mesh)  # an exported mesh with known colours
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dvr_cli.cli",
            "view",
            str(viewer_run),
            "--port",
            str(port),
            "--live",
            "off",
            "--device",
            "cpu",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        assert f"viewer: http://127.0.0.1:{port}" in lines[0], lines
        assert f"ssh -L {port}:localhost:{port}" in lines[1], lines
        footprint = mesh_footprint(mesh, viewer_run)
        with Browser(WIDTH, HEIGHT) as browser:
            browser.open(f"http://127.0.0.1:{port}/")

            def drawn():
                browser.evaluate(HIDE_NOTIFICATIONS)
                shot = browser.screenshot()
                # both kinds of frustum: the held-out ones can arrive a frame after the training ones
                frustums = color_pixels(shot, TRAIN_COLOR).sum() > 300 and color_pixels(shot, HELDOUT_COLOR).sum() > 50
                return shot if frustums and changed(shot)[footprint].mean() > 0.8 else None

            shot = wait_for(drawn, 120, "the frustums and the surface to be drawn")
    finally:
        server.terminate()
        server.wait(20)
    if os.environ.get("DVR_VIEWER_PICTURE"):
        Image.fromarray(shot).save(os.environ["DVR_VIEWER_PICTURE"])
    assert (np.abs(np.median(shot.reshape(-1, 3), axis=0) - 255) <= 10).all()  # the empty scene: a white page
    # the camera frustums: training views in blue, the held-out ones in orange
    assert color_pixels(shot, TRAIN_COLOR).sum() > 300
    assert color_pixels(shot, HELDOUT_COLOR).sum() > 50
    # the surface where the exported mesh projects, in the mesh's colours (shaded by the page's light)
    assert changed(shot)[footprint].mean() > 0.8
    assert changed(shot)[~footprint].mean() < 0.5
    import trimesh

    mesh_rgb = np.asarray(trimesh.load(mesh).visual.vertex_colors)[:, :3].mean(axis=0)
    seen = shot[footprint].astype(float).mean(axis=0)
    chroma = lambda rgb: rgb / rgb.sum()  # noqa: E731  (shading scales brightness, not the hue)
    assert np.abs(chroma(seen) - chroma(mesh_rgb)).max() < 0.06, (seen, mesh_rgb)
