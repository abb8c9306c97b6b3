"""`dvr view` on bad input: one-line errors; a scene without masks is shown without overlays."""

from __future__ import annotations

import json
import shutil
import socket

import numpy as np

from browser import free_port
from dvr_cli.cli import main
from dvr_cli.run import CHECKPOINT
from dvr_cli.scene import load_scene
from dvr_cli.viewer import Viewer, scene_content


def test_port_in_use_is_a_one_line_error(viewer_example, error_line):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["view", str(viewer_example), "--port", str(port)]) == 2
    assert f"--port {port}" in error_line()


def test_run_folder_without_checkpoint_is_a_one_line_error(viewer_run, tmp_path, error_line):
    run = tmp_path / "run"
    shutil.copytree(viewer_run, run)
    (run / CHECKPOINT).unlink()
    assert main(["view", str(run), "--port", str(free_port())]) == 2
    assert "no checkpoint" in error_line()


def test_bad_live_mode(viewer_run, error_line):
    assert main(["view", str(viewer_run), "--live", "x"]) == 2
    assert "--live" in error_line()


def test_scene_without_masks_is_shown_without_overlay(viewer_example, tmp_path):
    scene_dir = tmp_path / "photos"
    shutil.copytree(viewer_example / "images", scene_dir / "images")
    cams = json.loads((viewer_example / "cams.json").read_text())
    for camera in cams["cameras"]:
        camera.pop("mask")
    (scene_dir / "cams.json").write_text(json.dumps(cams))
    scene = load_scene(scene_dir)
    assert not any(v.mask is not None for v in scene.views)
    viewer = Viewer("127.0.0.1", free_port(), live=None)
    try:
        viewer.show(scene_content(scene))
        assert viewer.mask_toggle is None and viewer.live_mode is None
        assert len(viewer.frustums) == len(scene)
    finally:
        viewer.stop()


def test_scene_with_masks_and_sparse_points(viewer_example, tmp_path):
    from dvr_cli.calib.sfm import write_points_ply

    scene_dir = tmp_path / "scene"
    shutil.copytree(viewer_example, scene_dir)
    points = np.array([[0.3, -0.2, 1.0], [0.5, -0.2, 1.1]])
    write_points_ply(scene_dir / "sparse.ply", points, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    content = scene_content(load_scene(scene_dir))
    np.testing.assert_allclose(content.points, points)
    np.testing.assert_array_equal(content.point_colors, [[255, 0, 0], [0, 255, 0]])
    viewer = Viewer("127.0.0.1", free_port(), live=None)
    try:
        viewer.show(content)
        frustum = viewer.frustums[0]
        plain = frustum.image.copy()
        viewer.mask_toggle.value = True
        viewer._show_masks(True)
        assert not np.array_equal(frustum.image, plain)  # the overlay darkens the background
    finally:
        viewer.stop()
