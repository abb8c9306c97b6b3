"""Depth maps: loading (.npy / 16-bit .png), matching, resizing, and the depth loss in a fit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dvr_cli.cli import main
from dvr_cli.errors import DvrError
from dvr_cli.scene import load_scene


@pytest.fixture(scope="module")
def depth_scene(tmp_path_factory, make_example):
    out = tmp_path_factory.mktemp("depth") / "scene"
    return make_example(out, views=6, size=(48, 48), test_views=1, depth=True)


def _known_points(scene_dir):
    data = json.loads((scene_dir / "points.json").read_text())
    return np.asarray(data["points"]), np.asarray(data["pixels"]), np.asarray(data["depths"])


@pytest.mark.parametrize("ext", [".npy", ".png"])
def test_depth_at_known_points(depth_scene, tmp_path, ext):
    folder = tmp_path / "depth"
    folder.mkdir()
    for f in (depth_scene / "depth").glob(f"*{ext}"):
        shutil.copy(f, folder / f.name)
    scene = load_scene(depth_scene / "images", depth_scene / "cams.json", depth=folder, depth_scale=1000.0)
    view = scene.views[0]
    points, pixels, _ = _known_points(depth_scene)
    z = view.camera.world_to_camera(points)[:, 2]
    u, v = np.round(pixels).astype(int).T
    measured = view.depth[v, u]
    # nearest pixel centre, not the exact point: a smooth surface changes little within a pixel
    tol = 0.02 * np.median(z) + (5e-4 if ext == ".png" else 0.0)
    assert np.all(np.abs(measured - z) < tol), np.abs(measured - z).max()


def test_depth_downscale_keeps_values(depth_scene):
    full = load_scene(depth_scene / "images", depth_scene / "cams.json", depth=depth_scene / "depth")
    half = load_scene(depth_scene / "images", depth_scene / "cams.json", depth=depth_scene / "depth", downscale=2)
    assert half.views[0].depth.shape == (24, 24)
    # nearest-neighbour: every resized value is one of the full-resolution values
    assert np.isin(half.views[0].depth, full.views[0].depth).all()


def test_missing_depth_map_is_named(depth_scene, tmp_path):
    folder = tmp_path / "depth"
    shutil.copytree(depth_scene / "depth", folder)
    for f in folder.glob("001.*"):
        f.unlink()
    with pytest.raises(DvrError, match="001.png"):
        load_scene(depth_scene / "images", depth_scene / "cams.json", depth=folder)


def test_fit_with_depth_logs_the_depth_loss(depth_scene, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(
        [
            "fit",
            str(depth_scene / "images"),
            "--cameras",
            str(depth_scene / "cams.json"),
            "--out",
            str(run),
            "--iters",
            "25",
            "--depth",
            str(depth_scene / "depth"),
        ]
    )
    assert code == 0
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["depth"] > 0.0
    assert json.loads((run / "config.json").read_text())["losses"]["w_depth"] == 1.0
