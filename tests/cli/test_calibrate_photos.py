"""`dvr calibrate` without --cameras: checkerboard intrinsics, photos only, and clean failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from boards import K_TRUE, board_poses, render_board
from dvr_cli.calib.checkerboard import Intrinsics
from dvr_cli.cli import main


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def boards(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("boards")
    for k, (eye, target) in enumerate(board_poses()):
        cv2.imwrite(str(folder / f"board_{k:02d}.png"), render_board(eye, target))
    return folder


def test_checkerboard_writes_intrinsics(boards, tmp_path, capsys):
    out = tmp_path / "intrinsics.json"
    assert (
        main(["calibrate", "--checkerboard", str(boards), "--pattern", "9x6", "--square", "0.025", "--out", str(out)])
        == 0
    )
    data = json.loads(out.read_text())
    K = np.array(data["K"])
    assert abs(K[0, 0] - K_TRUE[0, 0]) / K_TRUE[0, 0] < 0.01 and abs(K[0, 2] - K_TRUE[0, 2]) < 3
    assert (data["width"], data["height"]) == (640, 480) and len(data["per_image"]) == 9
    printed = capsys.readouterr().out
    worst = max(data["per_image"], key=data["per_image"].get)
    assert f"rms {data['rms']:.3f} px" in printed and f"worst {worst}" in printed
    assert f"{K[0, 0]:.3f}" in printed


@pytest.mark.parametrize("pattern", ["9by6", "9", "1x6"])
def test_bad_pattern_is_one_line(boards, tmp_path, capsys, pattern):
    out = tmp_path / "intrinsics.json"
    assert main(["calibrate", "--checkerboard", str(boards), "--pattern", pattern, "--out", str(out)]) == 2
    assert f"--pattern '{pattern}'" in _one_line_error(capsys)
    assert not out.exists()


def test_checkerboard_takes_no_images(boards, tmp_path, capsys):
    assert main(["calibrate", str(boards), "--checkerboard", str(boards), "--out", str(tmp_path / "i.json")]) == 2
    assert "no IMAGES" in _one_line_error(capsys)


def test_photos_only_options_need_no_cameras(example_small, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            [
                "calibrate",
                str(example_small),
                "--cameras",
                str(example_small / "cams.json"),
                "--masks",
                "auto",
                "--per-image-intrinsics",
                "--matcher",
                "sequential",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "--matcher, --per-image-intrinsics only apply" in _one_line_error(capsys)
    assert not out.exists()


def _photos(folder: Path, arrays) -> Path:
    folder.mkdir(parents=True)
    for k, array in enumerate(arrays):
        Image.fromarray(array).save(folder / f"{k:02d}.png")
    return folder


def _textureless(k: int, shape=(120, 160)) -> np.ndarray:
    """Smooth gradient and a little noise: no blobs for SIFT."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    gray = 120 + 40 * np.sin(x / 50 + k) + np.random.default_rng(k).normal(0, 1, x.shape)
    return np.repeat(gray[..., None], 3, 2).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "case, message",
    [
        ("two", "2 image(s) given; calibration needs at least 3"),
        ("mixed", "02.png: image is 80x60 but 00.png is 160x120"),
        ("textureless", "registered 0 of 5 images"),
    ],
)
def test_bad_photos_exit_2_and_write_nothing(tmp_path, capsys, case, message):
    arrays = {
        "two": [_textureless(k) for k in range(2)],
        "mixed": [_textureless(0), _textureless(1), _textureless(2, (60, 80))],
        "textureless": [_textureless(k) for k in range(5)],
    }[case]
    photos = _photos(tmp_path / "photos", arrays)
    out = tmp_path / "scene"
    assert main(["calibrate", str(photos), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert message in err and str(photos) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


@pytest.mark.slow
def test_photos_only_through_the_cli(example_fine, tmp_path, capsys):
    """40 photos + one blank one: the blank is reported and left out; masks auto; dvr info reads
    the folder; known intrinsics stay fixed."""
    example = example_fine  # the session's 40-view 320x240 fine-texture example (tests/conftest.py)
    photos = tmp_path / "photos"
    shutil.copytree(example / "images", photos)
    Image.fromarray(np.full((240, 320, 3), 200, np.uint8)).save(photos / "zz_blank.png")
    out = tmp_path / "scene"

    assert main(["calibrate", str(photos), "--out", str(out), "--masks", "auto", "--downscale", "2"]) == 0
    printed = capsys.readouterr().out
    assert "1 photo(s) did not register and are left out: zz_blank.png" in printed
    cams = json.loads((out / "cams.json").read_text())
    assert 36 <= len(cams["cameras"]) <= 40 and cams["cameras"][0]["width"] == 160
    assert all("zz_blank" not in c["image"] for c in cams["cameras"])
    assert len(list((out / "masks").iterdir())) == len(cams["cameras"])
    assert (out / "sparse.ply").is_file() and (out / "sfm" / "colmap.log").is_file()
    for stage in ("features", "matching", "automatic masks", "time"):
        assert stage in printed

    assert main(["info", str(out)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "000.png" in line]
    coverage = float(rows[0].strip("│ ").split("│")[-1])  # the "mask %" column
    truth = np.asarray(Image.open(example / "masks" / "000.png")) > 127
    assert abs(coverage - 100 * truth.mean()) < 2.0, (coverage, 100 * truth.mean())

    true_K = np.array(json.loads((example / "cams.json").read_text())["cameras"][0]["K"])
    Intrinsics(true_K, np.zeros(5), 320, 240, 0.0, {}).save(tmp_path / "intrinsics.json")
    assert (
        main(
            ["calibrate", str(example / "images"), "--out", str(out), "--intrinsics", str(tmp_path / "intrinsics.json")]
        )
        == 0
    )
    K = np.array(json.loads((out / "cams.json").read_text())["cameras"][0]["K"])
    assert np.allclose(K, true_K, atol=1e-6)
