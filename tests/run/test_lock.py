"""One writer per run folder: a second fit is refused naming the holder; a killed holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvr_cli.cli import main
from dvr_cli.errors import DvrError
from dvr_cli.fit import fit
from dvr_cli.ownership import mark
from dvr_cli.run import RunLock
from sphere_scene import tiny_config


def test_a_second_fit_on_a_locked_folder_is_refused(tmp_path, sphere_scene):
    run = tmp_path / "run"
    run.mkdir()
    mark(run, "run")  # the folder another fit has begun
    with RunLock(run):
        with pytest.raises(DvrError, match=rf"another dvr process \(pid {os.getpid()}\) is writing this run folder"):
            fit(sphere_scene, tiny_config(iters=1), run)
        assert not (run / "config.json").exists()  # refused before writing anything
    result = fit(sphere_scene, tiny_config(iters=1), run)  # released: the folder is free
    assert result.iterations == 1 and not (run / ".lock").exists()


def _wait_for(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_two_dvr_fits_race_then_a_killed_fit_leaves_a_stale_lock(tiny_example, tmp_path, capsys):
    run = tmp_path / "run"
    dvr = Path(sys.executable).with_name("dvr")
    first = subprocess.Popen(
        [str(dvr), "fit", str(tiny_example), "--out", str(run), "--minutes", "2", "--device", "cpu"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lock = run / ".lock"
        _wait_for(lambda: lock.is_file() and lock.read_text().strip() == str(first.pid))
        assert main(["fit", str(tiny_example), "--out", str(run), "--iters", "2", "--device", "cpu"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"(pid {first.pid}) is writing this run folder" in err
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (run / ".lock").is_file()  # kill -9: the file stays, the kernel dropped the lock
    assert main(["fit", str(tiny_example), "--out", str(run), "--iters", "2", "--device", "cpu"]) == 0
    assert f"took over the lock of process {first.pid}" in capsys.readouterr().out
    assert not (run / ".lock").exists()
