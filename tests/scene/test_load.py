"""load_scene / write_scene: matching images, masks and cameras, resizing, errors, round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from dvr_cli.errors import DvrError
from dvr_cli.scene import load_scene, write_scene


@pytest.fixture
def scene_dir(example_small, tmp_path) -> Path:
    """A writable copy of the example's images, masks and cams.json."""
    out = tmp_path / "scene"
    out.mkdir()
    for name in ("images", "masks"):
        shutil.copytree(example_small / name, out / name)
    shutil.copy(example_small / "cams.json", out)
    return out


def test_downscale_follows_the_pixel_centre_rule(example_small):
    X = np.array(json.loads((example_small / "points.json").read_text())["points"])
    full = load_scene(example_small)
    half = load_scene(example_small, downscale=2)
    assert half.views[0].image.shape == (32, 32, 3) and half.views[0].mask.shape == (32, 32)
    np.testing.assert_allclose(
        half.views[0].camera.project(X), (full.views[0].camera.project(X) + 0.5) / 2 - 0.5, atol=1e-9
    )
    # masks shrink by area: the coverage stays within a few percent
    assert abs(half.views[0].mask.mean() - full.views[0].mask.mean()) < 0.03
    small = load_scene(example_small, max_size=16)
    assert small.views[0].image.shape == (16, 16, 3) and small.meta["downscale"] == 4


def test_meta_and_bbox_normalisation(example_small):
    scene = load_scene(example_small)
    assert scene.meta["format"] == "dvr" and scene.meta["masks"] == "camera file"
    assert scene.normalization.source == "bbox" and scene.has_masks
    assert Path(scene.meta["cameras_file"]) == example_small / "cams.json"
    assert scene.views[3].image_path == example_small / "images" / "003.png"
    assert scene.views[3].mask_path == example_small / "masks" / "003.png"
    assert (
        scene.views[0].image.dtype == np.float32 and 0 <= scene.views[0].image.min() <= scene.views[0].image.max() <= 1
    )


def test_write_then_load_round_trip(example_small, tmp_path):
    scene = load_scene(example_small, cameras=example_small / "transforms.json")  # visual-hull normalisation
    out = write_scene(scene, tmp_path / "calibrated")
    assert sorted(p.name for p in out.iterdir()) == [".dvr-owned", "cams.json", "images", "masks"]
    again = load_scene(out)
    assert again.meta["format"] == "scene"
    assert again.normalization.source == "visual_hull"  # kept, not re-derived
    np.testing.assert_allclose(again.normalization.center, scene.normalization.center)
    assert again.normalization.scale == scene.normalization.scale
    np.testing.assert_allclose(again.meta["bbox"], scene.meta["bbox"])
    for a, b in zip(again.views, scene.views):
        assert a.name == b.name
        np.testing.assert_allclose(a.camera.K, b.camera.K)
        np.testing.assert_allclose(a.camera.t, b.camera.t)
        assert np.abs(a.image - b.image).max() <= 0.5 / 255 + 1e-6
        np.testing.assert_array_equal(a.mask, b.mask)
    # writing again replaces the earlier scene folder, and leaves no temporary folder
    write_scene(scene.subset([0, 1]), out)
    assert len(load_scene(out)) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["calibrated"]


def test_write_refuses_to_replace_other_folders(example_small, tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(DvrError, match="dvr did not write it"):
        write_scene(load_scene(example_small, max_size=16), target)
    assert (target / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]


def test_masks_matched_by_order_when_names_differ(scene_dir, tmp_path):
    """DTU layout: image/000000.png with mask/000.png, and a camera file naming no masks."""
    masks = tmp_path / "other_masks"
    masks.mkdir()
    for i, path in enumerate(sorted((scene_dir / "masks").iterdir())):
        shutil.copy(path, masks / f"m{i:05d}.png")
    scene = load_scene(scene_dir, masks=masks)
    reference = load_scene(scene_dir)
    assert scene.meta["masks"] == str(masks)
    for a, b in zip(scene.views, reference.views):
        np.testing.assert_array_equal(a.mask, b.mask)


# ---------------------------------------------------------------------------------- errors
def _expect(match: str, path: Path, **kwargs):
    with pytest.raises(DvrError, match=match) as info:
        load_scene(**kwargs)
    assert str(path) in str(info.value)


def test_missing_and_empty_images_folder(tmp_path, example_small):
    _expect("does not exist", tmp_path / "nope", images=tmp_path / "nope", cameras=example_small / "cams.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    _expect("empty", empty, images=empty, cameras=example_small / "transforms.json")
    (empty / "notes.txt").write_text("no photos here")
    _expect("no images", empty, images=empty, cameras=example_small / "cameras.npz")


def test_camera_without_image(scene_dir):
    (scene_dir / "images" / "003.png").unlink()
    _expect(r"1 camera\(s\) have no image file: 003.png", scene_dir / "cams.json", images=scene_dir)


def test_image_without_camera(scene_dir):
    shutil.copy(scene_dir / "images" / "000.png", scene_dir / "images" / "extra.png")
    _expect(r"1 image\(s\) have no camera.*extra.png", scene_dir / "images", images=scene_dir)


def test_undecodable_image(scene_dir):
    (scene_dir / "images" / "002.png").write_bytes(b"garbage")
    _expect("cannot decode", scene_dir / "images" / "002.png", images=scene_dir)


def test_mask_of_another_size(scene_dir):
    path = scene_dir / "masks" / "001.png"
    cv2.imwrite(str(path), np.zeros((10, 12), np.uint8))
    _expect("mask is 12x10 but its image is 64x64", path, images=scene_dir)


def test_image_of_another_size(scene_dir):
    path = scene_dir / "images" / "001.png"
    cv2.imwrite(str(path), np.zeros((10, 12, 3), np.uint8))
    _expect("image is 12x10 but its camera says 64x64", path, images=scene_dir)


def test_fewer_than_two_views(scene_dir):
    data = json.loads((scene_dir / "cams.json").read_text())
    data["cameras"] = data["cameras"][:1]
    (scene_dir / "cams.json").write_text(json.dumps(data))
    for path in sorted((scene_dir / "images").iterdir())[1:]:
        path.unlink()
    _expect("at least 2", scene_dir / "cams.json", images=scene_dir)


def test_masks_folder_missing_a_mask(scene_dir, tmp_path):
    masks = tmp_path / "partial"
    shutil.copytree(scene_dir / "masks", masks)
    (masks / "005.png").unlink()
    _expect(r"no mask for 1 image\(s\): 005.png", masks, images=scene_dir, masks=masks)


def test_bad_downscale(example_small):
    with pytest.raises(DvrError, match="--downscale"):
        load_scene(example_small, downscale=0.5)
