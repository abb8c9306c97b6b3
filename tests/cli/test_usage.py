"""The installed `dvr` on usage mistakes: typer's usage message or one line, exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DVR = str(Path(sys.executable).with_name("dvr"))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DVR, *args], capture_output=True, text=True, timeout=120)


def test_dvr_alone_prints_the_help():
    result = _run()
    assert "Usage: dvr" in result.stdout + result.stderr and "fit" in result.stdout + result.stderr
    assert result.returncode in (0, 2) and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["foo"], "No such command 'foo'"),
        (["fitt"], "No such command 'fitt'"),
        (["fit", "--bogus"], "No such option: --bogus"),
        (["fit", "--iters", "abc", "IMAGES"], "Invalid value for '--iters'"),
        (["calibrate", "photos"], "Missing option '--out'"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args, message):
    result = _run(*args)
    assert result.returncode == 2, result
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--iters", "-5"], "config 'iters' must be an integer >= 1"),
        (["--minutes", "-1"], "config 'minutes' must be a number > 0"),
        (["--downscale", "0"], "config 'downscale' must be a number >= 1"),
        (["--holdout", "-2"], "config 'holdout' must be an integer >= 0"),
        (["--max-size", "3"], "config 'max_size' must be an integer >= 8"),
    ],
)
def test_out_of_range_numbers_are_refused(tiny_example, tmp_path, args, message):
    result = _run("fit", str(tiny_example), "--out", str(tmp_path / "run"), *args)
    assert result.returncode == 2, result
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "run").exists()
