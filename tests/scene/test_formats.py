"""Camera-file readers: every format lands the example's known points on the same pixels, and
malformed files fail with a DvrError naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dvr_cli.errors import DvrError
from dvr_cli.scene import Camera, detect_format, load_cameras, load_scene, look_at
from dvr_cli.scene.formats.dtu import decompose_projection

FRAME = "[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 3], [0, 0, 0, 1]]"  # a transforms.json camera-to-world
CAMERA_FILES = {"dvr": "cams.json", "dtu": "cameras.npz", "transforms": "transforms.json", "colmap": "colmap/sparse/0"}


@pytest.fixture(scope="module")
def known(example_small) -> tuple[np.ndarray, np.ndarray]:
    data = json.loads((example_small / "points.json").read_text())
    return np.array(data["points"]), np.array(data["pixels"])


@pytest.mark.parametrize("fmt", CAMERA_FILES)
def test_every_format_projects_known_points_to_their_pixels(example_small, known, fmt):
    X, pixels = known
    scene = load_scene(example_small, cameras=example_small / CAMERA_FILES[fmt])
    assert scene.meta["format"] == fmt
    assert len(scene) == 12 and scene.views[0].name == "000.png"
    err = np.abs(scene.views[0].camera.project(X) - pixels).max()
    assert err < 1e-4


@pytest.mark.parametrize("fmt", CAMERA_FILES)
def test_load_cameras_agrees_with_cams_json(example_small, fmt):
    reference = load_cameras(example_small / "cams.json")
    cameras = load_cameras(example_small / CAMERA_FILES[fmt], images=example_small)
    assert [c.name for c in cameras] == [c.name for c in reference]
    for a, b in zip(cameras, reference):
        np.testing.assert_allclose(a.K, b.K, atol=1e-6)
        np.testing.assert_allclose(a.R, b.R, atol=1e-6)
        np.testing.assert_allclose(a.t, b.t, atol=1e-6)
        assert (a.width, a.height) == (b.width, b.height)


def test_detect_format(example_small):
    assert detect_format(example_small)[0] == "dvr"  # cams.json wins over the other files
    assert detect_format(example_small / "transforms.json")[0] == "transforms"
    assert detect_format(example_small / "cameras.npz")[0] == "dtu"
    assert detect_format(example_small / "colmap")[0] == "colmap"  # finds sparse/0 below
    assert detect_format(example_small / "colmap/sparse/0/cameras.txt")[0] == "colmap"


@pytest.mark.parametrize("factor", [1.0, -2.5, 1e-3])
def test_decompose_projection_any_scale_and_sign(factor):
    K = np.array([[500.0, 0.3, 310.2], [0, 480.0, 242.7], [0, 0, 1]])
    R, t = look_at([1.0, -2.0, 0.5], [0.1, 0.2, 0.3])
    P = factor * K @ np.concatenate([R, t[:, None]], axis=1)
    K2, R2, t2 = decompose_projection(P)
    np.testing.assert_allclose(K2, K, atol=1e-9)
    np.testing.assert_allclose(R2, R, atol=1e-12)
    np.testing.assert_allclose(t2, t, atol=1e-12)
    assert np.linalg.det(R2) == pytest.approx(1.0)


# ------------------------------------------------------------------------- malformed files
def _cams_json(tmp_path: Path, **overrides) -> Path:
    R, t = look_at([0, -3.0, 0], [0, 0, 0])
    entry = Camera([[50, 0, 15.5], [0, 50, 15.5], [0, 0, 1]], R, t, 32, 32, name="a.png").to_json("a.png")
    entry.update(overrides)
    path = tmp_path / "cams.json"
    path.write_text(json.dumps({"cameras": [entry]}))
    return path


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"K": None}, "K"),
        ({"K": [[50, 0, 1], [0, 50, 1]]}, "shape"),
        ({"R": [[1, 0, 0], [0, 2, 0], [0, 0, 1]]}, "not a rotation"),
        ({"R": [[-1, 0, 0], [0, 1, 0], [0, 0, 1]]}, "not a rotation"),
        ({"t": [0, float("nan"), 1]}, "NaN"),
        ({"K": [[-50, 0, 15.5], [0, 50, 15.5], [0, 0, 1]]}, "focal length"),
        ({"width": "wide"}, "width"),
    ],
)
def test_bad_cams_json_names_the_file(tmp_path, overrides, message):
    path = _cams_json(tmp_path, **overrides)
    if overrides.get("K", 1) is None:
        data = json.loads(path.read_text())
        del data["cameras"][0]["K"]
        path.write_text(json.dumps(data))
    with pytest.raises(DvrError, match=message) as info:
        load_cameras(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("cams.json", "{not json", "not valid JSON"),
        ("cams.json", '{"something": 1}', "neither 'cameras'"),
        ("cams.json", '{"cameras": []}', "non-empty"),
        (
            "transforms.json",
            '{"w": 4, "h": 4, "frames": [{"file_path": "a.png", "transform_matrix": ' + FRAME + "}]}",
            "no intrinsics",
        ),
        (
            "transforms.json",
            '{"camera_model": "OPENCV_FISHEYE", "fl_x": 10, "w": 4, "h": 4, "frames": [{"file_path": "a.png", '
            '"transform_matrix": ' + FRAME + "}]}",
            "not supported",
        ),
        ("cameras.yaml", "", "not a known camera format"),
    ],
)
def test_bad_camera_files_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DvrError, match=message) as info:
        load_cameras(path)
    assert str(path) in str(info.value)


def test_bad_npz(tmp_path):
    path = tmp_path / "cameras.npz"
    np.savez(path, camera_mat_0=np.eye(4))
    with pytest.raises(DvrError, match="world_mat") as info:
        load_cameras(path, images=tmp_path)
    assert str(path) in str(info.value)
    path.write_bytes(b"not a zip")
    with pytest.raises(DvrError, match="npz"):
        load_cameras(path, images=tmp_path)


def test_npz_count_must_match_images(example_small, tmp_path):
    data = dict(np.load(example_small / "cameras.npz"))
    del data["world_mat_11"]
    path = tmp_path / "cameras.npz"
    np.savez(path, **data)
    with pytest.raises(DvrError, match="11 cameras but 12 images") as info:
        load_cameras(path, images=example_small)
    assert str(path) in str(info.value)


def test_colmap_unsupported_model(tmp_path):
    (tmp_path / "cameras.txt").write_text("1 FOV 32 32 30 30 16 16 0.1\n")
    (tmp_path / "images.txt").write_text("1 1 0 0 0 0 0 3 1 a.png\n\n")
    (tmp_path / "points3D.txt").write_text("")
    with pytest.raises(DvrError, match="FOV is not supported") as info:
        load_cameras(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_folder_without_camera_file(tmp_path):
    with pytest.raises(DvrError, match="no camera file"):
        load_cameras(tmp_path)
