"""Structure from motion on the example: registration, pose accuracy, clean failures.

The accuracy tests are slow: they read the SfM of the session's one photos-only calibration of
the 40-view fine example (tests/conftest.py; rendering the example, SfM and masks take ~50 s here).
Its automatic masks are checked against the true ones in test_pipeline.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from calib_helpers import scene_radius, true_cameras
from dvr_cli.calib.align import pose_errors
from dvr_cli.calib.sfm import estimate_cameras, write_points_ply
from dvr_cli.errors import DvrError
from dvr_cli.runtime import open3d

SFM_STAGES = ("features", "matching", "mapping", "refining")


@pytest.fixture
def sfm(example_fine, fine_calibration):
    """The SfM of the session's photos-only calibration of the fine example (tests/conftest.py):
    calibrate_photos runs estimate_cameras with its defaults, so it is not run a second time."""
    calibration, stages = fine_calibration
    paths = sorted((example_fine / "images").glob("*.png"))
    return paths, calibration.sfm, [s for s in stages if s[0] in SFM_STAGES]


@pytest.mark.slow
def test_sfm_registers_and_recovers_poses(example_fine, sfm):
    paths, result, stages = sfm
    assert len(result.registered) >= 0.9 * len(paths)
    assert set(result.registered) | set(result.unregistered) == {p.name for p in paths}
    truth = true_cameras(example_fine)
    err = pose_errors(result.cameras, [truth[n] for n in result.registered])
    radius = scene_radius(example_fine)
    assert err["rotation_deg"].mean() < 1.0, err["rotation_deg"]
    assert err["center"].mean() < 0.01 * radius, err["center"] / radius
    f_true = truth[paths[0].name].K[0, 0]
    assert abs(result.cameras[0].K[0, 0] - f_true) / f_true < 0.03
    assert result.reprojection_error < 1.0
    assert len(result.points) > 300 and result.points.shape == result.point_colors.shape
    assert [s for s in dict.fromkeys(s[0] for s in stages)] == list(SFM_STAGES)
    assert stages[-1] == ("refining", 1, 1)


@pytest.mark.slow
def test_sparse_points_lie_on_the_object(example_fine, sfm, tmp_path):
    paths, result, _ = sfm
    truth = true_cameras(example_fine)
    err = pose_errors(result.cameras, [truth[n] for n in result.registered])
    points = err["s"] * result.points @ err["R"].T + err["t"]
    o3d = open3d()
    mesh = o3d.t.geometry.TriangleMesh.from_legacy(o3d.io.read_triangle_mesh(str(example_fine / "mesh.ply")))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(mesh)
    dist = scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()
    assert np.median(dist) < 0.01 * scene_radius(example_fine)

    ply = write_points_ply(tmp_path / "sparse.ply", result.points, result.point_colors)
    assert len(o3d.io.read_point_cloud(str(ply)).points) == len(result.points)


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def test_fewer_than_three_images(tmp_path):
    paths = [_write(tmp_path / "in" / f"{k}.png", np.zeros((40, 50, 3), np.uint8)) for k in range(2)]
    with pytest.raises(DvrError, match="2 image\\(s\\) given"):
        estimate_cameras(paths, tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_mixed_sizes_with_shared_intrinsics(tmp_path):
    sizes = [(40, 50), (40, 50), (60, 50)]
    paths = [_write(tmp_path / "in" / f"{k}.png", np.zeros((*s, 3), np.uint8)) for k, s in enumerate(sizes)]
    with pytest.raises(DvrError, match="2.png: image is 50x60"):
        estimate_cameras(paths, tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_textureless_photos_fail_cleanly(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for k in range(5):
        # Smooth gradients and a little noise: no blobs for SIFT to find or match.
        y, x = np.mgrid[0:120, 0:160]
        gray = 120 + 40 * np.sin(x / 50 + k) + rng.normal(0, 1, x.shape)
        rgb = np.repeat(gray[..., None], 3, 2).clip(0, 255).astype(np.uint8)
        paths.append(_write(tmp_path / "in" / f"{k:02d}.png", rgb))
    existing = tmp_path / "work"
    existing.mkdir()
    (existing / "keep.txt").write_text("user file")
    with pytest.raises(DvrError, match="registered 0 of 5 images.*texture"):
        estimate_cameras(paths, existing)
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]


@pytest.mark.slow
def test_known_intrinsics_are_held_fixed(example_fine, tmp_path):
    paths = sorted((example_fine / "images").glob("*.png"))
    truth = true_cameras(example_fine)
    known = truth[paths[0].name]
    result = estimate_cameras(paths, tmp_path / "work", intrinsics=known)
    assert len(result.registered) >= 0.9 * len(paths)
    np.testing.assert_allclose(result.cameras[0].K, known.K, atol=1e-9)  # COLMAP's +0.5 undone exactly
    err = pose_errors(result.cameras, [truth[n] for n in result.registered])
    assert err["rotation_deg"].mean() < 1.0
    assert err["center"].mean() < 0.01 * scene_radius(example_fine)


def test_intrinsics_to_colmap_parameters():
    from dvr_cli.calib.sfm import colmap_params
    from dvr_cli.scene.camera import Camera

    K = np.array([[500.0, 0, 319.5], [0, 502.0, 239.5], [0, 0, 1]])
    model, params = colmap_params(Camera(K, np.eye(3), np.zeros(3), 640, 480, dist=[-0.1, 0.02, 0.001, 0.002]))
    assert model == "OPENCV" and params == pytest.approx([500, 502, 320, 240, -0.1, 0.02, 0.001, 0.002])
    model, params = colmap_params(Camera(K, np.eye(3), np.zeros(3), 640, 480, dist=[-0.1, 0.02, 0, 0, 0.005]))
    assert model == "FULL_OPENCV" and params[8] == 0.005 and params[9:] == [0, 0, 0]
