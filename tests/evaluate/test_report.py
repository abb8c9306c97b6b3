"""`evaluate_run` on an analytic sphere run: renders of itself score perfectly, bad inputs fail in one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import trimesh

import sphere_field as sf
from dvr_cli.errors import DvrError
from dvr_cli.evaluate.report import evaluate_images, evaluate_run, json_safe
from dvr_cli.render.renderer import render_image
from dvr_cli.scene.camera import Camera, look_at
from dvr_cli.scene.types import View

W, H = 40, 32


def view_of(run, eye, name="v0.png", size=(W, H)) -> View:
    """A photo of the sphere = its own render from a camera at ``eye`` (world)."""
    R, t = look_at(np.asarray(eye) + sf.NORMALIZATION.center, sf.NORMALIZATION.center, up=(0, 0, 1))
    K = [[40.0, 0, (size[0] - 1) / 2], [0, 40.0, (size[1] - 1) / 2], [0, 0, 1]]
    camera = Camera(K, R, t, size[0], size[1], name=name)
    out = render_image(run.field, run.normalization.camera_to_unit(camera), 64)
    return View(camera, out["rgb"], out["mask"], None, Path(name))


@pytest.fixture()
def run(tmp_path):
    return sf.sphere_run(tmp_path / "run")


def test_render_of_itself_scores_perfectly(run):
    views = [view_of(run, [4.0, 0.0, 1.0]), view_of(run, [0.0, -4.0, 0.5], "v1.png")]
    assert 0.1 < views[0].mask.mean() < 0.9
    result = evaluate_images(run, views, run.run_dir / "eval", n_samples=64)
    mean = result["mean"]
    assert mean["psnr"] == math.inf and mean["ssim"] == pytest.approx(1.0) and mean["iou"] == 1.0
    assert (run.run_dir / "eval" / "v0.png").is_file()
    assert [v["name"] for v in result["views"]] == ["v0.png", "v1.png"]


def test_noisy_photo_gives_its_psnr(run):
    view = view_of(run, [4.0, 0.0, 1.0])
    noise = np.random.default_rng(0).normal(0, 0.02, view.image.shape).astype(np.float32)
    view.image, view.mask = view.image + noise, None  # no mask: the render keeps a white background
    result = evaluate_images(run, [view], n_samples=64)
    assert result["mean"]["psnr"] == pytest.approx(-10 * np.log10(np.mean(noise.astype(np.float64) ** 2)), abs=1e-3)


def test_size_mismatch_names_view_and_sizes(run):
    view = view_of(run, [4.0, 0.0, 1.0])
    view.image = np.zeros((H + 2, W, 3), np.float32)
    with pytest.raises(DvrError, match=rf"view 'v0.png': image is {W}x{H + 2} but the render is {W}x{H}"):
        evaluate_images(run, [view], n_samples=64)


def test_geometry_against_analytic_sphere(run, tmp_path):
    gt = trimesh.creation.icosphere(subdivisions=5, radius=sf.RADIUS * sf.NORMALIZATION.scale)
    gt.apply_translation(sf.NORMALIZATION.center)
    gt.export(tmp_path / "gt.ply")
    result = evaluate_run(run, gt_mesh=tmp_path / "gt.ply", resolution=64, n_points=20000)
    geo = result["geometry"]
    assert geo["chamfer_l1_pct"] < 0.1 and geo["fscore"] == 1.0
    saved = json.loads((run.run_dir / "eval.json").read_text())
    assert saved["geometry"]["chamfer_l1"] == pytest.approx(geo["chamfer_l1"])


def test_bad_inputs(run, tmp_path):
    with pytest.raises(DvrError, match="nothing to evaluate"):
        evaluate_run(run)
    bad = tmp_path / "gt.obj"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(DvrError) as info:
        evaluate_run(run, gt_mesh=bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_json_safe_replaces_non_finite_floats_at_any_depth():
    data = {"a": math.nan, "b": [1.5, math.inf, (-math.inf, 2)], "c": {"d": math.nan, "e": "x"}}
    assert json_safe(data) == {"a": "nan", "b": [1.5, "inf", ["-inf", 2]], "c": {"d": "nan", "e": "x"}}
    assert json_safe(data, nan=None) == {"a": None, "b": [1.5, "inf", ["-inf", 2]], "c": {"d": None, "e": "x"}}
    json.loads(json.dumps(json_safe(data)), parse_constant=lambda token: pytest.fail(f"bare {token}"))
