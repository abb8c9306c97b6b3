"""Photos alone -> calibrated scene folder (-> fit -> mesh), against the example's ground truth.

The slow tests share the session's calibration of the 40-view fine example (tests/conftest.py,
also the SfM tests'); the end-to-end
fit compares the photos-only mesh with one fitted on the true cameras (~2-3 min).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from calib_helpers import read_views, scene_radius, true_cameras
from dvr_cli.calib.align import pose_errors
from dvr_cli.calib.pipeline import calibrate_photos, parse_pattern
from dvr_cli.config import FitConfig
from dvr_cli.errors import DvrError
from dvr_cli.evaluate.geometry import load_mesh, mesh_distances
from dvr_cli.fit import fit
from dvr_cli.mesh.export import export_mesh
from dvr_cli.ownership import check_replaceable, mark
from dvr_cli.run import load_run
from dvr_cli.runtime import open3d
from dvr_cli.scene import load_scene


@pytest.fixture
def calibrated(fine_calibration):
    return fine_calibration  # the session's one calibration of the fine example (tests/conftest.py)


@pytest.mark.slow
def test_photos_only_scene_folder(example_fine, calibrated):
    result, stages = calibrated
    scene = load_scene(result.out)  # the folder as `dvr fit` will read it
    truth = true_cameras(example_fine)
    assert len(scene) == len(result.sfm.registered) >= 0.9 * len(truth)
    names = [v.camera.name for v in scene.views]
    err = pose_errors([v.camera for v in scene.views], [truth[n] for n in names])
    assert err["rotation_deg"].mean() < 1.0, err["rotation_deg"]
    assert err["center"].mean() < 0.01 * scene_radius(example_fine), err["center"]

    # The whole true object lies in the unit cube (the sparse points' box missed its underside).
    norm = scene.normalization
    assert norm.source == "visual_hull"
    verts, _ = load_mesh(example_fine / "mesh.ply")
    unit = ((verts - err["t"]) @ err["R"] / err["s"] - norm.center) / norm.scale
    assert np.abs(unit).max() < 1.0, np.abs(unit).max(0)
    # The chosen frame: the cameras' mean image-up is +z.
    up = -np.mean([v.camera.R[1] for v in scene.views], axis=0)
    assert up[2] / np.linalg.norm(up) > 0.999

    # Automatic masks, as written (undistorted) in OUT/masks, against the true masks.
    paths, _, true_masks = read_views(example_fine)
    index = {p.name: k for k, p in enumerate(paths)}
    ious = [
        float((v.mask & true_masks[index[v.camera.name]]).sum() / (v.mask | true_masks[index[v.camera.name]]).sum())
        for v in scene.views
    ]
    assert np.mean(ious) >= 0.9, ious
    assert (np.asarray(Image.open(result.out / "masks" / "000.png")) > 127).sum() == scene.views[0].mask.sum()

    cloud = open3d().io.read_point_cloud(str(result.out / "sparse.ply"))
    assert len(cloud.points) == len(result.points) > 300
    assert np.allclose(np.asarray(cloud.points), result.points, atol=1e-5)
    assert (result.out / "sfm" / "sparse" / "cameras.bin").is_file()
    source = json.loads((result.out / "cams.json").read_text())["source"]
    assert source["masks"] == "auto" and source["images_dir"] == str(example_fine / "images")
    assert [s for s in dict.fromkeys(s[0] for s in stages)] == [
        "features",
        "matching",
        "mapping",
        "refining",
        "masks",
        "scene",
    ]
    assert stages[-1] == ("scene", 1, 1) and result.timings["total"] > 0


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="measured 2026-12-06: one of the two 400-iteration fits keeps a stray piece (Chamfer-L1 0.054-0.064 "
    "against 0.003-0.004), the true cameras' fit in some runs and the photos-only fit in others; not yet found",
)
def test_photos_only_mesh_close_to_true_cameras_mesh(example_fine, calibrated, tmp_path):
    """photos -> calibrate -> fit -> export: Chamfer within 2x of the fit on the true cameras."""
    result, _ = calibrated
    gt = load_mesh(example_fine / "mesh.ply")
    cfg = FitConfig.from_preset("fast", iters=400)
    chamfer = {}
    for name, folder in (("true", example_fine), ("photos", result.out)):
        scene = load_scene(folder, downscale=2)
        fit(scene, cfg, tmp_path / name)
        mesh = export_mesh(load_run(tmp_path / name, device="cpu"), "ply", resolution=128, out=tmp_path / f"{name}.ply")
        verts, faces = load_mesh(mesh)
        if name == "photos":  # into the true frame, by the similarity that aligns the camera centres
            truth = true_cameras(example_fine)
            err = pose_errors([v.camera for v in scene.views], [truth[v.camera.name] for v in scene.views])
            verts = err["s"] * verts @ err["R"].T + err["t"]
        chamfer[name] = mesh_distances((verts, faces), gt, n_points=30_000)["chamfer_l1"]
    print(
        f"Chamfer-L1 (world units): true cameras {chamfer['true']:.5f}, photos only {chamfer['photos']:.5f}, "
        f"ratio {chamfer['photos'] / chamfer['true']:.2f}"
    )
    assert chamfer["photos"] < 2 * chamfer["true"], chamfer


def test_parse_pattern():
    assert parse_pattern("9x6") == (9, 6) and parse_pattern(" 7X5 ") == (7, 5)
    for bad in ("9", "9x", "nine x six", "1x6", "9x6x2"):
        with pytest.raises(DvrError, match="COLSxROWS"):
            parse_pattern(bad)


def test_too_few_photos_write_nothing(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for k in range(2):
        Image.fromarray(np.full((30, 40, 3), 128, np.uint8)).save(folder / f"{k}.png")
    with pytest.raises(DvrError, match="2 image\\(s\\) given"):
        calibrate_photos(folder, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_refuses_an_output_folder_that_is_not_a_scene(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "cams.json").write_text("{}")
    with pytest.raises(DvrError, match="dvr did not write it"):
        check_replaceable(tmp_path, "scene")
    mark(tmp_path, "scene")
    with pytest.raises(DvrError, match=r"holds files dvr did not write \(cams.json, notes.txt\)"):
        check_replaceable(tmp_path, "scene")  # a marker covers only the files dvr recorded
    for name in ("notes.txt", "cams.json"):
        (tmp_path / name).unlink()
    check_replaceable(tmp_path, "scene")  # an earlier scene folder dvr wrote may be replaced


def test_sift_runs_at_the_working_size(tmp_path):
    """SIFT's longer side: what --max-size / --downscale make of the largest photo, never above it."""
    from dvr_cli.calib.pipeline import working_size

    paths = []
    for k, (w, h) in enumerate([(400, 300), (300, 400), (200, 150)]):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(paths[-1])
    assert working_size(paths, 1.0, 200) == 200 and working_size(paths, 4.0, None) == 100
    assert working_size(paths, 4.0, 50) == 50 and working_size(paths, 1.0, None) is None
    assert working_size(paths, 1.0, 800) is None
