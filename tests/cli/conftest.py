"""Fixtures of the CLI tests: a tiny example scene, a 4-iteration run of it, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvr_cli.cli import main


@pytest.fixture(scope="module")
def tiny_example(tmp_path_factory, make_example) -> Path:
    """A 6-view 32x32 example scene with 2 test views (about 1 s to make)."""
    return make_example(tmp_path_factory.mktemp("ex") / "scene", views=6, size=(32, 32), test_views=2,
                        colmap_points=20)


@pytest.fixture(scope="module")
def tiny_run(tiny_example) -> Path:
    """runs/ex of a 4-iteration fit holding out every 3rd view: the field is still about its
    initial sphere, so a surface exists."""
    run = tiny_example.parent / "runs" / "ex"
    assert main(["fit", str(tiny_example), "--out", str(run), "--iters", "4", "--holdout", "3", "--device", "cpu"]) == 0
    return run


@pytest.fixture
def error_line(capsys):
    """Returns the captured stderr, asserting that it is exactly one line."""

    def read() -> str:
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return err

    return read
