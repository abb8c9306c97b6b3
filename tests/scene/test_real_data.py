"""Smoke tests on the real data sets in ../shared/data (skipped where absent): three views each,
at 1/8 size, checked against projections computed here from the raw files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dvr_cli.scene import load_scene
from shared_data import shared_data

pytestmark = pytest.mark.real_data
VIEWS = 3
FACTOR = 8


def test_dtu_three_views_at_one_eighth(tmp_path):
    dtu = shared_data("dtu_scan65")
    # A DTU-layout folder with the first three views: image/000000.png.., mask/000.png.., npz.
    for sub in ("image", "mask"):
        (tmp_path / sub).mkdir()
        for path in sorted((dtu / sub).iterdir())[:VIEWS]:
            (tmp_path / sub / path.name).symlink_to(path)
    raw = np.load(dtu / "cameras.npz")
    np.savez(
        tmp_path / "cameras.npz",
        **{f"{k}_{i}": raw[f"{k}_{i}"] for k in ("world_mat", "scale_mat") for i in range(VIEWS)},
    )

    scene = load_scene(tmp_path, downscale=FACTOR)

    assert len(scene) == VIEWS and scene.meta["format"] == "dtu"
    assert scene.views[0].image.shape == (150, 200, 3) and scene.views[0].name == "000000.png"
    assert scene.meta["masks"] == str(tmp_path / "mask")  # found beside image/, matched by order
    assert all(0.05 < v.mask.mean() < 0.8 for v in scene.views)
    assert scene.normalization.source == "scale_mat"
    np.testing.assert_allclose(scene.normalization.center, raw["scale_mat_0"][:3, 3])
    # the scale_mat centre (on the skull), through the raw P and through the loaded camera
    X = np.append(raw["scale_mat_0"][:3, 3], 1.0)
    for i, view in enumerate(scene.views):
        h = raw[f"world_mat_{i}"][:3] @ X
        full = h[:2] / h[2]
        np.testing.assert_allclose(view.camera.project(X[None, :3])[0], (full + 0.5) / FACTOR - 0.5, atol=1e-6)
        assert np.linalg.det(view.camera.R) == pytest.approx(1.0)


def test_nerf_lego_three_views_at_one_eighth(tmp_path):
    lego = shared_data("nerf_synthetic_lego")
    meta = json.loads((lego / "transforms_train.json").read_text())
    frames = [dict(f, file_path=str(lego / f["file_path"])) for f in meta["frames"][:VIEWS]]  # no extension, as NeRF
    (tmp_path / "transforms.json").write_text(json.dumps({"camera_angle_x": meta["camera_angle_x"], "frames": frames}))

    scene = load_scene(tmp_path, downscale=FACTOR)

    assert len(scene) == VIEWS and scene.meta["format"] == "transforms" and scene.meta["masks"] == "alpha"
    view = scene.views[0]
    assert view.image.shape == (100, 100, 3) and view.name == "r_0.png"
    assert 0.05 < view.mask.mean() < 0.6
    np.testing.assert_allclose(view.image[~view.mask].mean(), 1.0, atol=0.02)  # composited onto white
    # the world origin (inside the lego) by hand: OpenGL camera looks down -z, y up, cx = (W - 1) / 2
    W = 800
    focal = 0.5 * W / math.tan(0.5 * meta["camera_angle_x"])
    for frame, v in zip(frames, scene.views):
        c2w = np.array(frame["transform_matrix"])
        x, y, z = np.linalg.inv(c2w)[:3] @ [0, 0, 0, 1]
        full = np.array([(W - 1) / 2 + focal * x / -z, (W - 1) / 2 - focal * y / -z])
        np.testing.assert_allclose(v.camera.project(np.zeros((1, 3)))[0], (full + 0.5) / FACTOR - 0.5, atol=1e-6)
