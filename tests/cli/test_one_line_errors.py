"""The one-line-error promise beyond DvrError: operating-system errors, a damaged surface
cache, broken files in `dvr view`, Ctrl-C (exit 130, nothing half-written), brackets in paths."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dvr_cli.cli import INTERRUPTED, main

FAST = ["--device", "cpu"]


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders dvr left under ``folder``."""
    return sorted(
        str(p) for p in folder.rglob("*") if p.name.endswith(".tmp") or ".dvr-new-" in p.name or ".dvr-old-" in p.name
    )


@pytest.mark.parametrize(
    "code, hint", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied")]
)
def test_an_unwritable_out_is_one_line_naming_it(tiny_example, tmp_path, monkeypatch, error_line, code, hint):
    import dvr_cli.fit.trainer as trainer

    out = tmp_path / "run"

    def refuse(folder, kind, inputs=()):
        raise OSError(code, os.strerror(code), str(folder))

    monkeypatch.setattr(trainer, "claim_folder", refuse)
    assert main(["fit", str(tiny_example), "--out", str(out), "--iters", "2", *FAST]) == 1
    err = error_line()
    assert str(out) in err and hint in err and "Traceback" not in err


def test_no_file_locks_is_one_line(tiny_example, tmp_path, monkeypatch, error_line):
    import dvr_cli.run.lock as lock

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    assert main(["fit", str(tiny_example), "--out", str(tmp_path / "run"), "--iters", "2", *FAST]) == 2
    err = error_line()
    assert str(tmp_path / "run" / ".lock") in err and "network file system" in err


def test_a_path_with_brackets_prints_literally(tmp_path, error_line):
    missing = tmp_path / "[bold]odd[/bold] [/x]" / "images"
    assert main(["fit", str(missing), *FAST]) == 2
    assert f"{missing}: does not exist" in error_line()


@pytest.fixture(scope="module")
def run(tiny_run, tmp_path_factory) -> Path:
    """A copy of the tiny fitted run, which these tests export into and break."""
    copy = tmp_path_factory.mktemp("errors") / "run"
    shutil.copytree(tiny_run, copy)
    return copy


def test_a_damaged_surface_cache_is_extracted_again(run):
    args = ["export", str(run), "--resolution", "16", *FAST]
    assert main(args) == 0
    cache = run / "export" / "surface-r16.npz"
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2])  # what a killed writer of old left
    mesh = run / "export" / "mesh.ply"
    first = mesh.read_bytes()
    assert main(args) == 0
    assert cache.read_bytes() == data and mesh.read_bytes() == first


def test_an_export_killed_while_writing_leaves_nothing_half_written(run, monkeypatch, error_line):
    """Ctrl-C in the middle of writing the cache, then of writing the mesh: exit 130, one line, the
    previous files intact or absent, never truncated; the next export works."""
    import dvr_cli.mesh.export as export
    import dvr_cli.mesh.writers as writers

    shutil.rmtree(run / "export", ignore_errors=True)

    def killed_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(export.np, "savez", killed_savez)
        assert main(["export", str(run), "--resolution", "16", *FAST]) == INTERRUPTED
    assert "interrupted" in error_line()
    assert not (run / "export" / "surface-r16.npz").exists() and leftovers(run) == []

    real_export = writers.trimesh.Trimesh.export

    def killed_export(self, *args, **kwargs):
        real_export(self, *args, **kwargs)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(writers.trimesh.Trimesh, "export", killed_export)
        assert main(["export", str(run), "--resolution", "16", *FAST]) == INTERRUPTED
    assert "interrupted" in error_line()
    assert not (run / "export" / "mesh.ply").exists() and leftovers(run) == []
    assert (run / "export" / "surface-r16.npz").is_file()  # the cache was finished before the mesh
    assert main(["export", str(run), "--resolution", "16", *FAST]) == 0
    assert (run / "export" / "mesh.ply").stat().st_size > 1000


def test_ctrl_c_in_render_and_eval_is_exit_130(run, tmp_path, monkeypatch, error_line):
    import cv2

    from dvr_cli.run.loaded import Run

    real_render, calls, stop_at = Run.render, [], {"call": 3}

    def render_twice(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == stop_at["call"]:
            raise KeyboardInterrupt
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(Run, "render", render_twice)
    out = tmp_path / "orbit"
    assert main(["render", str(run), "--frames", "5", "--resolution-scale", "0.5", "--out", str(out), *FAST]) == 130
    assert "interrupted" in error_line()
    images = sorted(out.glob("*.png"))
    assert [p.name for p in images] == ["0000.png", "0001.png"] and leftovers(out) == []
    assert all(cv2.imread(str(p)) is not None for p in images)  # whole images

    calls.clear()
    stop_at["call"] = 2  # the second of the two held-out views
    (run / "eval.json").unlink(missing_ok=True)
    assert main(["eval", str(run), "--resolution", "16", "--points", "100", *FAST]) == 130
    assert "interrupted" in error_line()
    assert not (run / "eval.json").exists() and leftovers(run) == []


def test_ctrl_c_in_batch_is_exit_130(tmp_path, monkeypatch, error_line, tiny_example):
    import dvr_cli.batch as batch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "run_batch", interrupted)
    assert main(["batch", str(tiny_example.parent), "--out", str(tmp_path / "out")]) == 130
    assert error_line() == "error: interrupted"


def test_view_a_broken_export_mesh_or_sparse_ply_is_one_line(run, tiny_example, tmp_path, error_line):
    mesh = run / "export" / "mesh.ply"
    mesh.parent.mkdir(exist_ok=True)
    mesh.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 100\n")  # truncated
    assert main(["view", str(run), "--port", "0", *FAST]) == 2
    err = error_line()
    assert str(mesh) in err and "cannot read" in err
    mesh.unlink()

    scene = tmp_path / "scene"
    assert (
        main(
            [
                "calibrate",
                str(tiny_example),
                "--cameras",
                str(tiny_example / "cams.json"),
                "--out",
                str(scene),
                "--max-size",
                "16",
            ]
        )
        == 0
    )
    (scene / "sparse.ply").write_bytes(b"not a point cloud")
    assert main(["view", str(scene), "--port", "0"]) == 2
    err = error_line()
    assert str(scene / "sparse.ply") in err


def test_view_warns_when_listening_beyond_this_machine(capsys):
    from rich.console import Console

    from dvr_cli.commands.view import is_loopback, print_address

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")

    class Shown:
        host, port, url, ssh_hint = "0.0.0.0", 8080, "http://box:8080", "ssh -L ..."

    print_address(Console(), Shown())
    printed = capsys.readouterr().out
    assert "warning: listening on 0.0.0.0: anyone who reaches port 8080 can see the photos" in printed
    Shown.host = "127.0.0.1"
    print_address(Console(), Shown())
    assert "warning" not in capsys.readouterr().out


def test_exr_decoding_is_switched_on_only_for_an_exr_read(tmp_path, monkeypatch):
    from dvr_cli.errors import DvrError
    from dvr_cli.scene import depth

    monkeypatch.delenv(depth.OPENEXR_SWITCH, raising=False)
    import cv2

    seen = []
    real = cv2.imread
    monkeypatch.setattr(cv2, "imread", lambda *a: seen.append(os.environ.get(depth.OPENEXR_SWITCH)) or real(*a))
    png = tmp_path / "d.png"
    cv2.imwrite(str(png), np.full((4, 4), 1000, np.uint16))
    exr = tmp_path / "d.exr"
    exr.write_bytes(b"v/1\x01 not really")
    depth.read_depth(png)
    with pytest.raises(DvrError, match="cannot decode"):
        depth.read_depth(exr)
    assert seen == [None, "1"] and depth.OPENEXR_SWITCH not in os.environ


def test_paths_with_brackets_print_literally_in_every_command(tiny_example, tmp_path, capsys):
    """rich reads '[...]' as markup: a folder named like a tag must neither vanish nor break a command."""
    odd = tmp_path / "[b]x[/b] [/i]"
    scene, run = odd / "scene", odd / "run"
    assert (
        main(
            [
                "calibrate",
                str(tiny_example),
                "--cameras",
                str(tiny_example / "cams.json"),
                "--out",
                str(scene),
                "--max-size",
                "16",
            ]
        )
        == 0
    )
    assert main(["fit", str(scene), "--out", str(run), "--iters", "2", "--holdout", "3", *FAST]) == 0
    assert main(["export", str(run), "--resolution", "16", *FAST]) == 0
    assert main(["eval", str(run), "--resolution", "16", "--points", "100", *FAST]) == 0
    assert main(["info", str(run)]) == 0 and main(["info", str(scene)]) == 0
    assert main(["render", str(run), "--frames", "1", "--resolution-scale", "0.5", *FAST]) == 0
    # rich wraps long lines at spaces (this folder's name has one): compare without white space
    printed = "".join(capsys.readouterr().out.split())
    for path in (scene, run, run / "export" / "mesh.ply", run / "eval.json"):
        assert "".join(str(path).split()) in printed, path
