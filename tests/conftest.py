"""Shared fixtures: the synthetic example scene (generated, never committed), its photos-only
calibration, the analytic sphere scene, a tiny fitted run, one-line errors and an embedded Ray."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from runs import fitted_run
from sphere_scene import make_scene


@pytest.fixture(scope="session")
def make_example():
    """The example generator's ``make_example(out, views, size, ...)`` function."""
    import make_example

    return make_example.make_example


@pytest.fixture(scope="session")
def example_small(tmp_path_factory, make_example):
    """A small example scene (12 views at 64 px, 3 test views) shared by the whole session."""
    out = tmp_path_factory.mktemp("example_small") / "scene"
    return make_example(out, views=12, size=(64, 64), test_views=3, seed=0)


@pytest.fixture(scope="session")
def example_full(tmp_path_factory, make_example):
    """The default example scene (as `make demo` uses), for the slow end-to-end tests."""
    out = tmp_path_factory.mktemp("example_full") / "scene"
    return make_example(out)


@pytest.fixture(scope="session")
def example_fine(tmp_path_factory, make_example):
    """High-frequency texture for feature matching: 40 views at 320x240 is the smallest setting
    measured to register every view with < 1 degree / < 1% radius pose error."""
    return make_example(
        tmp_path_factory.mktemp("calib") / "fine", views=40, size=(320, 240), texture="fine", test_views=0, seed=0
    )


@pytest.fixture(scope="session")
def fine_calibration(example_fine, tmp_path_factory):
    """One photos-only calibration of ``example_fine`` (SfM + automatic masks, the library's
    ``calibrate_photos``), shared by the SfM and pipeline tests: (PhotoCalibration, progress stages)."""
    from dvr_cli.calib.pipeline import calibrate_photos

    stages = []
    out = tmp_path_factory.mktemp("pipeline") / "scene"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(example_fine)  # the photos as a user types them: relative to the working folder
        result = calibrate_photos(Path("images"), out, masks="auto", progress=lambda *a: stages.append(a))
    return result, stages


@pytest.fixture(scope="session")
def sphere_scene():
    """The analytic sphere scene (tests/helpers/sphere_scene.py): 6 views at 24 px."""
    return make_scene()


@pytest.fixture(scope="module")
def tiny_example(tmp_path_factory, make_example) -> Path:
    """A 6-view 32x32 example scene with 2 test views (about 1 s to make)."""
    return make_example(tmp_path_factory.mktemp("ex") / "scene", views=6, size=(32, 32), test_views=2, colmap_points=20)


@pytest.fixture(scope="module")
def tiny_run(tiny_example) -> Path:
    """runs/ex of a 4-iteration fit holding out every 3rd view: the field is still about its
    initial sphere, so a surface exists."""
    return fitted_run(tiny_example, tiny_example.parent / "runs" / "ex", holdout=3)


@pytest.fixture
def error_line(capsys):
    """Returns the captured stderr, asserting that it is exactly one line."""

    def read() -> str:
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return err

    return read


@pytest.fixture
def one_thread():
    """One torch thread within the test (the sums of a reduction may depend on the thread count)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def local_ray():
    """Ray started once (2 CPUs, no dashboard): `dvr batch` then uses it instead of starting its own."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray
    ray.shutdown()
