"""Fits without masks (colour alone, the unified renderer of the fast preset): the example scene reaches
the shape targets, a plate thinner than the first marching sample survives, and a longer fit is not worse."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from box_scene import box_surface_points, make_box_scene, ring
from dvr_cli.config import FitConfig
from dvr_cli.evaluate.report import evaluate_run
from dvr_cli.fit import fit
from dvr_cli.mesh.export import extract_run_surface
from dvr_cli.run import load_run
from dvr_cli.scene.load import load_scene

pytestmark = pytest.mark.slow


def _config(**overrides) -> FitConfig:
    values = dict(
        iters=400,
        rays_per_step=512,
        views_per_step=4,
        grid_resolutions=[16, 32, 64],
        hash_resolutions=[],
        mlp_hidden=32,
        occ_grid_res=32,
        occ_grid_every=100,
        device="cpu",
        preview_every_s=1e9,
    )
    values.update(overrides)
    return FitConfig.from_preset("fast", **values)


@pytest.fixture(scope="module")
def example_16(tmp_path_factory, make_example):
    """16 views at 64 px and 4 test views: the smallest example the shape targets are measured on."""
    return make_example(tmp_path_factory.mktemp("ex16") / "scene", views=16, size=(64, 64), test_views=4, seed=0)


def _scores(run_dir, scene_dir) -> dict:
    result = evaluate_run(
        load_run(run_dir, device="cpu"),
        scene_dir / "mesh.ply",
        scene_dir / "test" / "cams.json",
        resolution=128,
        n_points=30_000,
    )
    return {"chamfer": result["geometry"]["chamfer_l1_pct"], **result["images"]["mean"]}


def test_a_fit_without_masks_reaches_the_shape_targets(example_16, tmp_path):
    scene = load_scene(example_16 / "images", example_16 / "cams.json").without_masks()
    # the fast preset itself: measured Chamfer 0.385 %, IoU 0.959, held-out masked PSNR 21.0 dB. The
    # lighter _config (no hashed level, 32-wide MLP) reaches only 1.89 % / 0.954 here: without masks its
    # shell has holes where the backdrop's colour shows through early in the fit
    fit(scene, FitConfig.from_preset("fast", iters=400, device="cpu", preview_every_s=1e9), tmp_path / "run")
    scores = _scores(tmp_path / "run", example_16)  # the masks only score the held-out views
    print(scores)
    assert scores["chamfer"] <= 1.0 and scores["iou"] >= 0.95, scores


@pytest.mark.xfail(
    strict=True,
    reason="not reached yet: without masks only 26.7 % of the plate is within 0.05 (the fast preset: 23.3 %) "
    "(this config), 400 iterations; the white backdrop shows through a plate seen edge-on",
)
def test_a_plate_thinner_than_the_first_step_survives_without_masks(tmp_path):
    # 0.03 thick: a third of a step of 32 marching samples over the cube's chord (0.11)
    lo, hi = np.array([-0.6, -0.6, -0.015]), np.array([0.6, 0.6, 0.015])
    cameras = ring(16, distance=3.0, size=48, focal=55.0, elevations=(0.25, -0.6, 0.8, -0.15))
    fit(make_box_scene(lo, hi, cameras).without_masks(), _config(), tmp_path / "run")
    points = box_surface_points(lo, hi, 20000)
    verts, _ = extract_run_surface(load_run(tmp_path / "run", device="cpu"), resolution=128)
    completeness, _ = cKDTree(verts).query(points)
    assert np.mean(completeness < 0.05) > 0.9, f"only {np.mean(completeness < 0.05):.1%} of the plate is there"


def test_a_longer_fit_is_not_worse(example_16, tmp_path):
    scene = load_scene(example_16 / "images", example_16 / "cams.json")
    scores = {}
    for iters in (60, 600):
        fit(scene, _config(iters=iters), tmp_path / f"run{iters}")
        scores[iters] = _scores(tmp_path / f"run{iters}", example_16)
    print(scores)
    assert scores[600]["chamfer"] <= scores[60]["chamfer"], scores
    assert scores[600]["masked_psnr"] >= scores[60]["masked_psnr"], scores
