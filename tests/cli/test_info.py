"""`dvr info`: a calibrated scene, a bare camera file, a run folder, and a missing path."""

from __future__ import annotations

import json

import numpy as np

from dvr_cli.cli import main
from dvr_cli.scene import Camera, load_scene, write_scene


def test_info_on_a_calibrated_scene(example_small, tmp_path, capsys):
    out = write_scene(load_scene(example_small, max_size=32), tmp_path / "scene")
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "000.png" in printed and "011.png" in printed
    assert "bbox: centre" in printed and "32x32" in printed


def test_info_on_cameras_without_images(example_small, capsys):
    # the COLMAP model's folder holds no photos: the table still lists the cameras
    assert main(["info", str(example_small / "colmap" / "sparse" / "0")]) == 0
    printed = capsys.readouterr().out
    assert "cameras only" in printed and "12 cameras, format colmap" in printed


def test_info_on_a_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"preset": "fast", "iters": 2000}))
    camera = Camera(np.array([[50.0, 0, 16], [0, 50.0, 16], [0, 0, 1]]), np.eye(3), np.array([0, 0, 3.0]), 32, 32)
    (run / "scene.json").write_text(
        json.dumps(
            {
                "normalization": {"center": [0.1, 0.2, 0.3], "scale": 1.5, "source": "visual_hull"},
                "cameras": [camera.to_json(f"/data/{i}.png") for i in range(5)],
                "train": [0, 1, 2, 4],
                "holdout": [3],
            }
        )
    )
    assert main(["info", str(run)]) == 0
    printed = capsys.readouterr().out
    assert "preset" in printed and "2000" in printed
    assert "5 (4 train, 1 held out)" in printed and "visual_hull" in printed and "none yet" in printed


def test_info_on_a_missing_path(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
