"""`dvr eval` through the command line, on a tiny real fit of the example scene."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from dvr_cli.cli import main

FAST = ["--steps", "32", "--resolution", "32", "--points", "2000", "--device", "cpu"]


@pytest.fixture(scope="module")
def scene_and_run(tiny_example, tiny_run) -> tuple[Path, Path]:
    return tiny_example, tiny_run


def test_geometry_and_held_out_views(scene_and_run, capsys):
    example, run = scene_and_run
    assert main(["eval", str(run), "--gt-mesh", str(example / "mesh.ply"), *FAST]) == 0
    result = json.loads((run / "eval.json").read_text())
    geo = result["geometry"]
    assert 0 < geo["chamfer_l1"] and 0 <= geo["fscore"] <= 1
    assert geo["chamfer_l1"] == pytest.approx(0.5 * (geo["accuracy"] + geo["completeness"]))
    images = result["images"]
    assert images["source"] == "held-out views of the run" and len(images["views"]) == 2
    assert 5 < images["mean"]["psnr"] < 40 and 0 < images["mean"]["iou"] <= 1
    figures = sorted((run / "eval").glob("*.png"))
    assert len(figures) == 2 and Image.open(figures[0]).size == (3 * 32, 32)
    out = capsys.readouterr().out
    assert "Chamfer-L1" in out and "psnr" in out


def test_test_cameras_and_json(scene_and_run, tmp_path):
    example, run = scene_and_run
    report = tmp_path / "r.json"
    assert (
        main(["eval", str(run), "--test-cameras", str(example / "test" / "cams.json"), "--json", str(report), *FAST])
        == 0
    )
    result = json.loads(report.read_text())
    assert "geometry" not in result and len(result["images"]["views"]) == 2


def test_bad_inputs_exit_2_with_one_line(scene_and_run, tmp_path, capsys, error_line):
    example, run = scene_and_run
    bad = tmp_path / "gt.ply"
    bad.write_text("not a mesh")
    assert main(["eval", str(run), "--gt-mesh", str(bad), *FAST]) == 2
    assert str(bad) in error_line()
    assert main(["eval", str(tmp_path), *FAST]) == 2
    assert "no checkpoint" in error_line()
    # Test images of the wrong size: the line names the view and both sizes.
    test = tmp_path / "test"
    shutil.copytree(example / "test", test)
    first = sorted((test / "images").iterdir())[0]
    Image.open(first).resize((40, 30)).save(first)
    assert main(["eval", str(run), "--test-cameras", str(test / "cams.json"), *FAST]) == 2
    line = error_line()
    assert first.name in line and "40x30" in line and "32x32" in line
