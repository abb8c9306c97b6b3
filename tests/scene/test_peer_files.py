"""Camera files as other tools ship them: frames without photos, EXIF-rotated JPEGs, file paths
without an extension, 16-bit PNGs, portrait photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dvr_cli.errors import DvrError
from dvr_cli.scene import load_scene


@pytest.fixture
def shipped(example_small, tmp_path) -> Path:
    """A copy of the example's photos, masks, transforms.json and COLMAP model."""
    out = tmp_path / "shipped"
    out.mkdir()
    for name in ("images", "masks", "colmap"):
        shutil.copytree(example_small / name, out / name)
    shutil.copy(example_small / "transforms.json", out)
    return out


@pytest.mark.parametrize("cameras", ["transforms.json", "colmap/sparse/0"])
def test_frames_without_photos_are_skipped_with_one_warning(shipped, cameras):
    n = len(list((shipped / "images").iterdir()))
    for name in ("003.png", "007.png"):
        (shipped / "images" / name).unlink()
    warnings = []
    scene = load_scene(shipped / "images", shipped / cameras, warn=warnings.append)
    assert len(scene) == n - 2 and {v.name for v in scene.views}.isdisjoint({"003.png", "007.png"})
    assert len(warnings) == 1 and f"2 of {n} frames" in warnings[0] and "003.png" in warnings[0]
    # the masks follow the frames that are kept
    assert all(v.mask is not None for v in scene.views)


def test_too_few_frames_with_photos_is_an_error(shipped):
    for path in sorted((shipped / "images").iterdir())[2:]:
        path.unlink()
    with pytest.raises(DvrError, match=r"have no image file") as info:
        load_scene(shipped / "images", shipped / "transforms.json", warn=lambda m: None)
    assert "transforms.json" in str(info.value)


def _tiny_transforms(folder: Path, frames: list[str], width: int, height: int) -> Path:
    """A transforms.json of len(frames) cameras 3 units from the origin, 20 degrees apart about
    the y axis, looking at it (the first from -z)."""
    entries = []
    for k, name in enumerate(frames):
        a = np.radians(20.0 * k)
        right, down = np.array([np.cos(a), 0, np.sin(a)]), np.array([0.0, 1, 0])
        forward = np.array([-np.sin(a), 0, np.cos(a)])
        c2w = np.eye(4)
        c2w[:3, :3] = np.stack([right, -down, -forward], 1)  # OpenGL axes: x right, y up, z backwards
        c2w[:3, 3] = -3 * forward
        entries.append({"file_path": name, "transform_matrix": c2w.tolist()})
    path = folder / "transforms.json"
    path.write_text(
        json.dumps(
            {"fl_x": 20.0, "fl_y": 20.0, "cx": width / 2, "cy": height / 2, "w": width, "h": height, "frames": entries}
        )
    )
    return path


def test_file_path_without_extension_finds_the_photo(tmp_path):
    """NeRF synthetic names './train/r_0': the photo is r_0.png."""
    (tmp_path / "train").mkdir()
    for k in range(3):
        cv2.imwrite(str(tmp_path / "train" / f"r_{k}.png"), np.full((8, 10, 3), 40 * k, np.uint8))
    path = _tiny_transforms(tmp_path, [f"./train/r_{k}" for k in range(3)], 10, 8)
    scene = load_scene(path)
    assert [v.name for v in scene.views] == ["r_0.png", "r_1.png", "r_2.png"]
    assert scene.views[2].image[0, 0, 0] == pytest.approx(80 / 255)


def test_sixteen_bit_pngs_keep_their_precision(tmp_path):
    """A 16-bit value 1000 is 1000 / 65535 = 0.01526, not an 8-bit step (0 or 0.0157)."""
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"{k}.png"), np.full((8, 10, 3), 1000 * (k + 1), np.uint16))
    scene = load_scene(tmp_path, _tiny_transforms(tmp_path, [f"{k}.png" for k in range(3)], 10, 8))
    for k, view in enumerate(scene.views):
        np.testing.assert_allclose(view.image, 1000 * (k + 1) / 65535, atol=1e-7)


def test_portrait_photos_project_like_their_camera(tmp_path):
    """Photos 10 wide, 16 high; a point on the optical axis lands on the principal point, and
    --max-size shrinks the height, the longer side."""
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"{k}.png"), np.zeros((16, 10, 3), np.uint8))
    path = _tiny_transforms(tmp_path, [f"{k}.png" for k in range(3)], 10, 16)
    view = load_scene(tmp_path, path).views[0]
    assert view.image.shape == (16, 10, 3)
    np.testing.assert_allclose(view.camera.project(np.array([[0.0, 0.0, 0.0]])), [[4.5, 7.5]], atol=1e-9)
    small = load_scene(tmp_path, path, max_size=8).views[0]
    assert small.image.shape == (8, 5, 3) and (small.camera.width, small.camera.height) == (5, 8)


def _exif_jpeg(path: Path, stored: np.ndarray, orientation: int) -> None:
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, quality=100, exif=exif)


@pytest.mark.parametrize(
    "orientation, corner", [(6, (slice(0, 8), slice(-8, None))), (8, (slice(-8, None), slice(0, 8)))]
)
def test_exif_rotated_jpegs(tmp_path, orientation, corner):
    """A phone JPEG stored landscape (32x24) with a red top-left corner, EXIF orientation 6 (shown
    turned 90 degrees clockwise: the corner at the top right) or 8 (counter-clockwise: bottom left).
    A camera of the stored size (instant-ngp, COLMAP, nerfstudio) gets the stored pixels; a camera
    of the upright size gets the photo turned upright, as a viewer shows it."""
    stored = np.full((24, 32, 3), 255, np.uint8)
    stored[:8, :8] = (255, 0, 0)
    for k in range(3):
        _exif_jpeg(tmp_path / f"{k}.jpg", stored, orientation)
    names = [f"{k}.jpg" for k in range(3)]
    raw = load_scene(tmp_path, _tiny_transforms(tmp_path, names, 32, 24)).views[0].image
    assert raw.shape == (24, 32, 3) and raw[:8, :8, 1].mean() < 0.1 and raw[-8:, -8:, 1].min() > 0.9
    turned = load_scene(tmp_path, _tiny_transforms(tmp_path, names, 24, 32)).views[0].image
    assert turned.shape == (32, 24, 3)
    red = turned[corner]
    assert red[..., 0].mean() > 0.85 and red[..., 1].mean() < 0.1  # JPEG's chroma blurs the block's edge
    assert turned[1:-1, 1:-1, 1].mean() > 0.8  # only that corner is red
