"""`dvr render` through the command line, on a tiny real fit of the example scene."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dvr_cli.cli import main
from dvr_cli.fit import fit
from dvr_cli.scene.types import Scene
from sphere_scene import tiny_config

FAST = ["--steps", "32", "--device", "cpu"]


@pytest.fixture(scope="module")
def scene_and_run(tiny_example, tiny_run) -> tuple[Path, Path]:
    return tiny_example, tiny_run


def test_novel_orbit_all_outputs_and_video(scene_and_run, tmp_path):
    _, run = scene_and_run
    out = tmp_path / "orbit"
    assert (
        main(
            [
                "render",
                str(run),
                "--frames",
                "3",
                "--what",
                "rgb,depth,normal,mask",
                "--video",
                "--resolution-scale",
                "0.5",
                "--out",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"000{i}{s}" for i in range(3) for s in (".png", "_depth.png", "_depth.npy", "_normal.png", "_mask.png")]
        + ["video.mp4", ".dvr-owned"]
    )
    rgb = cv2.imread(str(out / "0000.png"))
    assert rgb.shape == (16, 16, 3)
    mask = cv2.imread(str(out / "0000_mask.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert 0.05 < mask.mean() < 0.95  # the object is in view and centred
    depth = np.load(out / "0000_depth.npy")
    assert (depth[mask] > 0).all() and (depth[~mask] == 0).all()


def test_train_and_test_views_named_like_the_images(scene_and_run):
    _, run = scene_and_run
    info = json.loads((run / "scene.json").read_text())
    assert main(["render", str(run), "--view", "test", *FAST]) == 0
    held = sorted(Path(info["cameras"][i]["image"]).stem + ".png" for i in info["holdout"])
    assert sorted(p.name for p in (run / "renders" / "test").iterdir()) == held
    assert main(["render", str(run), "--view", "train", "--transparent", *FAST]) == 0
    files = list((run / "renders" / "train").iterdir())
    assert len(files) == len(info["train"])
    assert cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED).shape == (32, 32, 4)


def test_camera_file_views(scene_and_run, tmp_path):
    example, run = scene_and_run
    cams = example / "test" / "cams.json"
    assert main(["render", str(run), "--view", str(cams), "--out", str(tmp_path / "t"), *FAST]) == 0
    expected = sorted(Path(c["image"]).stem + ".png" for c in json.loads(cams.read_text())["cameras"])
    assert sorted(p.name for p in (tmp_path / "t").glob("*.png")) == expected


def test_bad_inputs_exit_2_with_one_line(scene_and_run, tmp_path, capsys, error_line):
    _, run = scene_and_run
    assert main(["render", str(run), "--view", str(tmp_path / "nope.json"), *FAST]) == 2
    assert "no such file" in error_line()
    assert main(["render", str(run), "--what", "rgb,albedo", *FAST]) == 2
    assert "choose from rgb,depth,normal,mask" in error_line()
    assert main(["render", str(run), "--frames", "0", *FAST]) == 2
    assert "--frames" in error_line()
    assert main(["render", str(tmp_path)]) == 2
    assert "no checkpoint" in error_line()


def test_a_run_without_masks_renders_its_background(sphere_scene, tmp_path):
    backdrop = np.array([0.2, 0.4, 0.8], dtype=np.float32)  # most of each photo: the background starts there
    views = [
        dataclasses.replace(v, image=np.where(v.mask[..., None], v.image, backdrop), mask=None)
        for v in sphere_scene.views
    ]
    fit(Scene(views, sphere_scene.normalization), tiny_config(iters=2, holdout=3), tmp_path / "run")
    assert main(["render", str(tmp_path / "run"), "--view", "test", "--what", "rgb,mask", *FAST]) == 0
    out = tmp_path / "run" / "renders" / "test"
    rgb = cv2.imread(str(out / "001.png"))[..., ::-1] / 255.0
    mask = cv2.imread(str(out / "001_mask.png"), cv2.IMREAD_GRAYSCALE) > 0
    assert (~mask).sum() > 100
    assert np.abs(rgb[~mask] - backdrop).max() < 0.05  # the background, not white
