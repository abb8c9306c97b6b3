"""`dvr fit` through the command line: bad inputs give exit 2 and one line; a tiny fit writes a run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dvr_cli.cli import main

TINY = ["--iters", "4", "--device", "cpu"]


@pytest.fixture(scope="module")
def example(tiny_example) -> Path:
    return tiny_example


def test_tiny_fit_writes_the_run_folder(example, tmp_path, monkeypatch, capsys, error_line):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", str(example), "--holdout", "3", *TINY]) == 0
    runs = [p for p in (tmp_path / "runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1 and runs[0].name.startswith("scene-")
    run = runs[0]
    assert (tmp_path / "runs" / "latest").resolve() == run.resolve()
    assert os.readlink(tmp_path / "runs" / "latest") == run.name
    for name in ("config.json", "scene.json", "checkpoints/latest.pt", "metrics.jsonl"):
        assert (run / name).is_file(), name
    assert json.loads((run / "config.json").read_text())["schedule"]["iters"] == 4
    info = json.loads((run / "scene.json").read_text())
    assert info["holdout"] == [1, 4] and info["train"] == [0, 2, 3, 5]
    assert Path(info["cameras"][0]["image"]).is_absolute()
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["iter"] == 4
    assert list((run / "previews").glob("iter_000004.png"))
    assert f"dvr export {run.relative_to(tmp_path)}" in capsys.readouterr().out

    # resume with no IMAGES: the recorded inputs are reloaded; more iterations is a different config
    assert main(["fit", "--resume", "--iters", "4", "--device", "cpu"]) == 0
    assert main(["fit", "--resume", "--iters", "8"]) == 2
    line = error_line()
    assert "config differs" in line and "['iters']" in line


@pytest.mark.slow
def test_sparse_points_are_triangulated_once_and_kept_for_a_resume(example_fine, tmp_path):
    run = tmp_path / "run"
    fit = ["fit", str(example_fine), "--out", str(run), "--sparse-weight", "0.5", "--max-size", "160"]
    assert main([*fit, *TINY]) == 0
    assert json.loads((run / "config.json").read_text())["losses"]["w_sparse"] == 0.5
    cached = run / "sparse_points.npz"
    points = np.load(cached)
    assert len(points["points"]) > 20 and points["view"].max() == 39  # 40 views at 160x120
    assert "sparse" in json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    stamp = cached.stat().st_mtime_ns
    assert main([*fit, "--resume", *TINY]) == 0
    assert cached.stat().st_mtime_ns == stamp  # read back, not triangulated again


def test_without_masks_the_fit_runs_from_colour_alone(example, tmp_path, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(example / "images", bare / "images")
    cams = json.loads((example / "cams.json").read_text())
    for cam in cams["cameras"]:
        cam.pop("mask", None)
    (bare / "cams.json").write_text(json.dumps(cams))
    fit = ["fit", str(bare / "images"), "--cameras", str(bare / "cams.json"), "--out", str(tmp_path / "r")]
    assert main([*fit, *TINY]) == 0
    assert "fitting from colour alone" in capsys.readouterr().out
    state = torch.load(tmp_path / "r" / "checkpoints" / "latest.pt", weights_only=False)
    assert state["background"]["gain"].shape == (6, 3)  # the environment map's exposure per photo, checkpointed
    assert main([*fit, "--resume", *TINY]) == 0  # and restored


@pytest.mark.parametrize("value, word", [(0, "empty"), (255, "full")])
def test_blank_masks_are_an_error_naming_the_folder(example, tmp_path, capsys, value, word, error_line):
    masks = tmp_path / "masks"
    masks.mkdir()
    for path in (example / "masks").iterdir():
        Image.fromarray(np.full((32, 32), value, np.uint8)).save(masks / path.name)
    assert main(["fit", str(example), "--masks", str(masks), "--out", str(tmp_path / "r"), *TINY]) == 2
    line = error_line()
    assert word in line and str(masks) in line


def test_cameras_that_miss_the_object_region(example, tmp_path, capsys, error_line):
    cams = json.loads((example / "cams.json").read_text())
    for cam in cams["cameras"]:
        cam["R"] = (np.diag([-1.0, 1.0, -1.0]) @ np.asarray(cam["R"])).tolist()  # turned away from the object
        cam["t"] = (-np.asarray(cam["t"])).tolist()
        cam["image"] = str(example / cam["image"])
        cam["mask"] = str(example / cam["mask"])
    (tmp_path / "away.json").write_text(json.dumps(cams))
    code = main(
        ["fit", str(example / "images"), "--cameras", str(tmp_path / "away.json"), "--out", str(tmp_path / "r"), *TINY]
    )
    assert code == 2
    line = error_line()
    assert "unit cube" in line


def test_resume_without_a_run_is_an_error(tmp_path, monkeypatch, capsys, error_line):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--resume"]) == 2
    assert "runs/latest" in error_line()
    assert main(["fit"]) == 2
    assert "IMAGES" in error_line()


def test_compile_flag_falls_back_in_one_line(example, tmp_path, monkeypatch, capsys):
    from dvr_cli.fields import compiled

    def failing(fn, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("no C++ compiler")

        return run

    monkeypatch.setattr(compiled.torch, "compile", failing)
    assert main(["fit", str(example), "--out", str(tmp_path / "run"), "--compile", *TINY]) == 0
    captured = capsys.readouterr()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["rendering"]["compile"] is True
    assert captured.err.count("torch.compile of the field failed (RuntimeError: no C++ compiler)") == 1
    assert "field compiled" not in captured.out
    assert json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["compiled"] is False
