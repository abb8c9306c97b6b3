"""dvr never deletes or overwrites what it did not write: one test per row of docs/data-safety.md's
table, on a user's capture ``cap/`` (images/, masks/, cams.json and the user's notes.txt), whose
every byte is compared before and after; a calibration that fails midway keeps the previous scene."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from dvr_cli.cli import main


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def cap(tiny_example, tmp_path) -> Path:
    """A user's capture: photos, masks and a camera file, with notes of their own."""
    cap = tmp_path / "cap"
    for name in ("images", "masks"):
        shutil.copytree(tiny_example / name, cap / name)
    shutil.copy(tiny_example / "cams.json", cap / "cams.json")
    (cap / "notes.txt").write_text("lens 35 mm, turntable, 2026-12-01\n")
    return cap


def calibrate(cap: Path, out: Path, *extra: str) -> int:
    return main(["calibrate", str(cap / "images"), "--cameras", str(cap / "cams.json"), "--out", str(out), *extra])


def test_row1_the_capture_folder_as_out_is_refused(cap, error_line):
    before = snapshot(cap)
    assert calibrate(cap, cap, "--downscale", "2") == 2
    err = error_line()
    assert str(cap) in err and "choose another --out" in err
    assert snapshot(cap) == before and sorted(p.name for p in cap.parent.iterdir()) == ["cap"]


def test_row2_a_users_folder_holding_a_cams_json_is_refused(cap, tmp_path, error_line):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(cap / "cams.json", work / "cams.json")
    (work / "thesis.tex").write_text("\\documentclass{article}\n")
    before = snapshot(work)
    assert calibrate(cap, work) == 2
    assert "dvr did not write it" in error_line()
    assert snapshot(work) == before and sorted(p.name for p in tmp_path.iterdir()) == ["cap", "work"]


def test_row3_a_users_scene_old_beside_the_scene_is_kept(cap, tmp_path):
    mine = tmp_path / "scene.old"
    mine.mkdir()
    (mine / "draft.txt").write_text("my earlier attempt\n")
    scene = tmp_path / "scene"
    assert calibrate(cap, scene) == 0
    first = snapshot(scene)
    assert calibrate(cap, scene, "--max-size", "16") == 0  # replaces dvr's own scene
    assert snapshot(scene) != first and (scene / ".dvr-owned").is_file()
    assert (mine / "draft.txt").read_text() == "my earlier attempt\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap", "scene", "scene.old"]  # no temporary folder left


def test_row4_fit_into_a_users_folder_is_refused(cap, tmp_path, error_line):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("config.json", "scene.json", "metrics.jsonl"):
        (mine / name).write_text(f"the user's own {name}\n")
    before = snapshot(mine)
    assert (
        main(
            [
                "fit",
                str(cap / "images"),
                "--cameras",
                str(cap / "cams.json"),
                "--out",
                str(mine),
                "--iters",
                "2",
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    err = error_line()
    assert str(mine) in err and "dvr did not write" in err and "choose another --out" in err
    assert snapshot(mine) == before


def test_fit_into_its_input_scene_is_refused(cap, tmp_path, error_line):
    scene = tmp_path / "scene"
    assert calibrate(cap, scene) == 0
    before = snapshot(scene)
    assert main(["fit", str(scene), "--out", str(scene / "run"), "--iters", "2", "--device", "cpu"]) == 2
    assert "lies inside the input" in error_line()
    assert snapshot(scene) == before


def test_a_calibration_failing_midway_keeps_the_previous_scene(cap, tmp_path, monkeypatch, error_line):
    scene = tmp_path / "scene"
    assert calibrate(cap, scene) == 0
    before = snapshot(scene)
    import dvr_cli.scene.write as write

    calls = []

    def full_disk(path, image):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, image)

    real = write.write_rgb
    monkeypatch.setattr(write, "write_rgb", full_disk)
    assert calibrate(cap, scene, "--max-size", "16") == 2
    assert "No space left on device" in error_line()
    assert snapshot(scene) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cap", "scene"]  # the half-written new one is gone


def test_a_users_runs_latest_link_is_left_alone(cap, tmp_path, monkeypatch):
    """runs/latest is changed only when it is dvr's own link."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "runs" / "latest").symlink_to(tmp_path / "elsewhere")  # the user's own link
    assert (
        main(
            [
                "fit",
                str(cap / "images"),
                "--cameras",
                str(cap / "cams.json"),
                "--out",
                "runs/a",
                "--iters",
                "2",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (tmp_path / "runs" / "latest").readlink() == tmp_path / "elsewhere"


# ---------------------------------------------------------------- paths spelt another way
@pytest.fixture
def beside(tiny_run, tmp_path) -> tuple[Path, Path]:
    """A copy of the fitted run (``run/``) and a user's folder ``mine/`` beside it with a mesh, a
    photo and notes of theirs."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, symlinks=True)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "mesh.ply").write_text("the user's own mesh\n")
    (mine / "000.png").write_bytes(b"the user's photo")
    (mine / "notes.txt").write_text("mine\n")
    return run, mine


def test_export_through_dotdot_is_refused(beside, error_line):
    run, mine = beside
    before = snapshot(mine)
    assert (
        main(
            [
                "export",
                str(run),
                "--format",
                "ply",
                "--resolution",
                "16",
                "--device",
                "cpu",
                "--out",
                f"{run}/../mine/mesh.ply",
            ]
        )
        == 2
    )
    assert "dvr did not write it" in error_line()
    assert snapshot(mine) == before and not (run / "export").exists()  # refused before the surface is extracted


def test_export_through_a_link_in_the_run_is_refused(beside, error_line):
    run, mine = beside
    (run / "link").symlink_to(mine)
    before = snapshot(mine)
    assert (
        main(["export", str(run), "--resolution", "16", "--device", "cpu", "--out", str(run / "link" / "mesh.ply")])
        == 2
    )
    assert "dvr did not write it" in error_line()
    assert snapshot(mine) == before


def test_render_into_a_users_folder_through_dotdot_is_refused(beside, error_line):
    run, mine = beside
    before = snapshot(mine)
    assert (
        main(
            [
                "render",
                str(run),
                "--view",
                "train",
                "--resolution-scale",
                "0.25",
                "--device",
                "cpu",
                "--out",
                f"{run}/../mine",
            ]
        )
        == 2
    )
    assert "holds files dvr did not write" in error_line()
    assert snapshot(mine) == before and not (mine / ".dvr-owned").exists()


def test_recalibrating_keeps_the_users_files_in_the_scene(cap, tmp_path, error_line):
    """The user put hand-fixed masks and notes into the scene dvr wrote: the new calibration is
    refused, naming them, and every file of the scene stays as it was."""
    scene = tmp_path / "scene"
    assert calibrate(cap, scene) == 0
    (scene / "masks" / "003_fixed.png").write_bytes(b"hand-fixed")
    (scene / "notes.txt").write_text("fixed 003 by hand\n")
    before = snapshot(scene)
    assert calibrate(cap, scene, "--max-size", "16") == 2
    err = error_line()
    assert "holds files dvr did not write (masks/003_fixed.png, notes.txt)" in err
    assert snapshot(scene) == before


def test_a_render_keeps_a_users_file_in_the_render_folder(beside, tmp_path, error_line):
    """A file of the user's where a render would write a frame: refused before the first frame."""
    run, _ = beside
    assert (
        main(
            [
                "render",
                str(run),
                "--view",
                "test",
                "--resolution-scale",
                "0.25",
                "--device",
                "cpu",
                "--out",
                str(tmp_path / "first"),
            ]
        )
        == 0
    )
    last = max(p.name for p in (tmp_path / "first").glob("*.png"))
    folder = run / "renders" / "test"
    folder.mkdir(parents=True)
    (folder / last).write_bytes(b"the user's retouched frame")
    assert main(["render", str(run), "--view", "test", "--resolution-scale", "0.25", "--device", "cpu"]) == 2
    assert "dvr did not write it" in error_line()
    assert [p.name for p in folder.iterdir()] == [last]  # refused before the first frame
    assert (folder / last).read_bytes() == b"the user's retouched frame"


def test_eval_and_checkerboard_refuse_a_users_file_before_any_work(beside, monkeypatch, error_line):
    from dvr_cli.calib import pipeline

    run, mine = beside
    figures = {p: p.stat().st_mtime_ns for p in (run / "eval").iterdir()}
    assert main(["eval", str(run), "--device", "cpu", "--json", str(mine / "notes.txt")]) == 2
    assert "dvr did not write it" in error_line()
    assert {p: p.stat().st_mtime_ns for p in (run / "eval").iterdir()} == figures  # nothing rendered

    monkeypatch.setattr(pipeline, "calibrate_checkerboard", lambda *a: pytest.fail("calibrated before the check"))
    assert main(["calibrate", "--checkerboard", str(mine), "--out", str(mine / "notes.txt")]) == 2
    assert "dvr did not write it" in error_line()
    assert (mine / "notes.txt").read_text() == "mine\n"


def test_latest_only_in_a_runs_folder(cap, tmp_path, monkeypatch):
    """fit --out ~/scans/fox_run puts no `latest` into the user's ~/scans."""
    monkeypatch.chdir(tmp_path)
    scans = tmp_path / "scans"
    scans.mkdir()
    assert (
        main(
            [
                "fit",
                str(cap / "images"),
                "--cameras",
                str(cap / "cams.json"),
                "--out",
                str(scans / "fox_run"),
                "--iters",
                "1",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in scans.iterdir()) == ["fox_run"]
    assert (
        main(
            [
                "fit",
                str(cap / "images"),
                "--cameras",
                str(cap / "cams.json"),
                "--out",
                "runs/a",
                "--iters",
                "1",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (tmp_path / "runs" / "latest").readlink() == Path("a")


def test_eval_prints_a_library_warning_as_one_line(tiny_example, tmp_path, capsys):
    """A run fitted from a transforms.json with frames that have no photo: `dvr eval` reloads the
    scene and says so in one console line, once, without dvr's source path."""
    from runs import fitted_run

    shipped = tmp_path / "shipped"
    for name in ("images", "masks"):
        shutil.copytree(tiny_example / name, shipped / name)
    shutil.copy(tiny_example / "transforms.json", shipped)
    (shipped / "images" / "000.png").unlink()
    run = fitted_run(shipped, tmp_path / "run", holdout=3, iters=1)
    capsys.readouterr()
    assert main(["eval", str(run), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == ["warning: 1 of 6 frames in transforms.json have no photo and are skipped: 000.png"]
