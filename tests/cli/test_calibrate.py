"""`dvr calibrate`: writes a scene folder; bad inputs exit 2 with one line naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from dvr_cli.cli import main


def test_calibrate_dtu_layout(example_small, tmp_path, capsys):
    out = tmp_path / "calibrated"
    code = main(
        [
            "calibrate",
            str(example_small),
            "--cameras",
            str(example_small / "cameras.npz"),
            "--out",
            str(out),
            "--downscale",
            "2",
        ]
    )
    assert code == 0
    data = json.loads((out / "cams.json").read_text())
    assert len(data["cameras"]) == 12 and data["cameras"][0]["width"] == 32
    assert data["normalization"]["source"] == "scale_mat"
    assert len(list((out / "images").iterdir())) == 12 and len(list((out / "masks").iterdir())) == 12
    printed = capsys.readouterr().out
    assert "12 views" in printed and "scale_mat" in printed


def test_bad_input_is_one_line_and_writes_nothing(example_small, tmp_path, capsys):
    bad = tmp_path / "cams.json"
    data = json.loads((example_small / "cams.json").read_text())
    data["cameras"][2]["R"] = np.diag([1.0, 1.0, -1.0]).tolist()
    bad.write_text(json.dumps(data))
    out = tmp_path / "out"
    code = main(["calibrate", str(example_small), "--cameras", str(bad), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and str(bad) in err and "not a rotation" in err
    assert not out.exists() and not (tmp_path / "out.tmp").exists()


def test_dvr_executable(example_small, tmp_path):
    """The installed console script: success, then a missing camera file (exit 2, no traceback)."""
    dvr = Path(sys.executable).with_name("dvr")
    out = tmp_path / "scene"
    ok = subprocess.run(
        [
            str(dvr),
            "calibrate",
            str(example_small),
            "--cameras",
            str(example_small / "transforms.json"),
            "--out",
            str(out),
            "--max-size",
            "32",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads((out / "cams.json").read_text())["normalization"]["source"] == "visual_hull"
    missing = tmp_path / "nope.json"
    bad = subprocess.run(
        [str(dvr), "calibrate", str(example_small), "--cameras", str(missing), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2
    assert str(missing) in bad.stderr and "Traceback" not in bad.stderr
    assert (out / "cams.json").is_file()  # the earlier scene is untouched


def test_frames_without_photos_warn_in_one_line(example_small, tmp_path, capsys):
    """A transforms.json listing 12 frames beside 10 photos: the 10 are calibrated, one warning line."""
    import shutil

    for name in ("images", "masks"):
        shutil.copytree(example_small / name, tmp_path / "shipped" / name)
    shutil.copy(example_small / "transforms.json", tmp_path / "shipped")
    for name in ("000.png", "005.png"):
        (tmp_path / "shipped" / "images" / name).unlink()
    out = tmp_path / "scene"
    assert (
        main(
            [
                "calibrate",
                str(tmp_path / "shipped"),
                "--cameras",
                str(tmp_path / "shipped" / "transforms.json"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert [line for line in printed.splitlines() if "warning" in line] == [
        "warning: 2 of 12 frames in transforms.json have no photo and are skipped: 000.png, 005.png"
    ]
    assert len(json.loads((out / "cams.json").read_text())["cameras"]) == 10
