"""Real captures (DTU scan 65, NeRF lego) at CI size: loaders, downscale arithmetic, the whole pipeline.

Each scene is cut to a few views (a subset camera file pointing at the shared photos) and
loaded at 1/8 size. Skipped with a message where ../shared/data is absent.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dvr_cli.cli import main
from dvr_cli.scene import load_cameras, load_scene
from shared_data import shared_data

pytestmark = pytest.mark.real_data
DTU_VIEWS = [0, 6, 12, 18, 24, 30, 36, 42]
LEGO_VIEWS = [0, 12, 24, 36, 48, 60, 72, 84]
SMALL = 8  # downscale factor of the smoke runs
#: Held-out limits of the 40-iteration smoke fit per scene: (IoU, masked PSNR dB), each view. Measured
#: 2026-12-06 (load 9): DTU IoU 0.718 / 0.721, 8.96 / 11.19 dB; lego IoU 0.619 / 0.719, 10.19 / 10.91 dB.
#: Slack about 0.07 IoU and 1 dB (2 torch threads: float sums may differ run to run). A 1-iteration
#: fit scores lego 0.41 / 0.46, 7.4 / 7.7 dB and fails; on DTU it scores 0.67 / 0.72, 8.9 / 10.2 dB: at
#: this size 40 iterations barely move DTU's held-out views, so there the limits catch a broken fit only.
HELD_OUT_LIMITS = {"dtu": (0.65, 8.0), "lego": (0.55, 9.0)}


@pytest.fixture(scope="module")
def dtu(tmp_path_factory) -> Path:
    """DTU scan 65 cut to DTU_VIEWS: links to its photos and masks, and their cameras.npz entries."""
    source = shared_data("dtu_scan65")
    out = tmp_path_factory.mktemp("dtu") / "scan65"
    data = np.load(source / "cameras.npz")
    images, masks = sorted((source / "image").glob("*.png")), sorted((source / "mask").glob("*.png"))
    arrays = {}
    for new, old in enumerate(DTU_VIEWS):
        for folder, files in (("image", images), ("mask", masks)):
            (out / folder).mkdir(parents=True, exist_ok=True)
            (out / folder / f"{new:06d}.png").symlink_to(files[old])
        for key in ("world_mat", "scale_mat"):
            arrays[f"{key}_{new}"] = data[f"{key}_{old}"]
    np.savez(out / "cameras.npz", **arrays)
    return out


@pytest.fixture(scope="module")
def lego(tmp_path_factory) -> Path:
    """The lego training set cut to LEGO_VIEWS: a transforms file naming the shared photos."""
    source = shared_data("nerf_synthetic_lego")
    data = json.loads((source / "transforms_train.json").read_text())
    frames = [dict(data["frames"][i], file_path=str(source / data["frames"][i]["file_path"])) for i in LEGO_VIEWS]
    out = tmp_path_factory.mktemp("lego") / "transforms_train.json"
    out.write_text(json.dumps({"camera_angle_x": data["camera_angle_x"], "frames": frames}))
    return out


def _resized_pixel(uv: np.ndarray, factor: float) -> np.ndarray:
    """OpenCV pixel centres: pixel u of the full image is (u + 0.5) / factor - 0.5 after shrinking."""
    return (uv + 0.5) / factor - 0.5


def test_dtu_cameras_and_downscale(dtu):
    raw = np.load(dtu / "cameras.npz")
    full = load_cameras(dtu / "cameras.npz", dtu)
    scene = load_scene(dtu, downscale=SMALL)
    assert len(scene) == len(DTU_VIEWS) and scene.meta["format"] == "dtu"
    assert (full[0].width, full[0].height) == (1600, 1200)
    assert (scene.views[0].camera.width, scene.views[0].camera.height) == (200, 150)
    assert scene.views[0].image.shape == (150, 200, 3) and scene.has_masks
    # the object's centre: scale_mat maps the unit sphere onto it (IDR); the normalisation keeps it
    S = raw["scale_mat_0"]
    assert scene.normalization.source == "scale_mat"
    np.testing.assert_allclose(scene.normalization.center, S[:3, 3])
    assert scene.normalization.scale == pytest.approx(S[0, 0])
    X = S[:3, 3] + 0.3 * S[0, 0] * np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.5]])
    for i, (big, view) in enumerate(zip(full, scene.views)):
        P = raw[f"world_mat_{i}"][:3]
        h = np.c_[X, np.ones(len(X))] @ P.T
        np.testing.assert_allclose(big.project(X), h[:, :2] / h[:, 2:], atol=1e-6)  # the decomposition is exact
        uv = view.camera.project(X)
        np.testing.assert_allclose(uv, _resized_pixel(big.project(X), SMALL), atol=1e-6)
        u, v = np.round(uv[0]).astype(int)
        assert view.mask[v, u], f"view {i}: the object's centre is outside its mask"


def test_lego_cameras_and_downscale(lego):
    angle = json.loads(lego.read_text())["camera_angle_x"]
    full = load_cameras(lego)
    scene = load_scene(lego.parent, lego, max_size=800 // SMALL)
    assert len(scene) == len(LEGO_VIEWS) and scene.meta["masks"] == "alpha"
    assert (full[0].width, full[0].height) == (800, 800)
    assert scene.views[0].image.shape == (100, 100, 3)
    fx = 0.5 * 800 / math.tan(0.5 * angle)  # NeRF's focal length from the horizontal field of view
    np.testing.assert_allclose(full[0].K[[0, 1, 0, 1], [0, 1, 2, 2]], [fx, fx, 399.5, 399.5])
    np.testing.assert_allclose(scene.views[0].camera.K[[0, 1], [0, 1]], [fx / SMALL, fx / SMALL])
    # Blender cameras look down -z (c2w): the origin, where the model stands, is in front of each
    X = np.array([[0.0, 0.0, 0.0], [0.3, -0.2, 0.4]])
    for i, (big, view) in enumerate(zip(full, scene.views)):
        assert (big.R @ X[0] + big.t)[2] > 0, f"view {i}: the origin is behind the camera"
        uv = view.camera.project(X)
        np.testing.assert_allclose(uv, _resized_pixel(big.project(X), SMALL), atol=1e-6)
        u, v = np.round(uv[0]).astype(int)
        assert view.mask[v, u], f"view {i}: the origin is outside the alpha mask"
        # white background outside the alpha mask (composited), as NeRF renders it
        assert view.image[~view.mask].mean() > 0.95


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dtu", "lego"])
def test_pipeline_holds_out_exports_and_scores(name, request, tmp_path, capsys):
    data = request.getfixturevalue(name)
    inputs = (
        [str(data), "--downscale", str(SMALL)]
        if name == "dtu"
        else [str(data.parent), "--cameras", str(data), "--max-size", str(800 // SMALL)]
    )
    run = tmp_path / "run"
    assert main(["fit", *inputs, "--holdout", "4", "--iters", "40", "--device", "cpu", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "held-out views of the run" in out and "masked_psnr" in out  # the fit ends with the held-out table
    result = json.loads((run / "eval.json").read_text())
    assert json.loads((run / "scene.json").read_text())["holdout"] == [2, 6]
    views = result["images"]["views"]
    assert [Path(v["name"]).stem for v in views] == (["000002", "000006"] if name == "dtu" else ["r_24", "r_72"])
    for v in views:
        assert all(math.isfinite(v[k]) for k in ("psnr", "ssim", "masked_psnr", "iou")), v
        iou, psnr = HELD_OUT_LIMITS[name]
        assert iou < v["iou"] <= 1.0 and 0.0 < v["ssim"] <= 1.0 and v["masked_psnr"] > psnr, v
    assert main(["export", str(run), "--resolution", "48", "--format", "ply", "--device", "cpu"]) == 0
    from dvr_cli.runtime import open3d

    mesh = open3d().io.read_triangle_mesh(str(run / "export" / "mesh.ply"))
    assert len(mesh.triangles) > 500 and mesh.has_vertex_colors()
    # the mesh is in world units, around the scene's object
    info = json.loads((run / "scene.json").read_text())["normalization"]
    centre, scale = np.asarray(info["center"]), info["scale"]
    assert np.abs((np.asarray(mesh.vertices) - centre) / scale).max() <= 1.0 + 1e-3
