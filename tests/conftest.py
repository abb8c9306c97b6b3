"""Shared fixtures: the synthetic example scene (generated, never committed) and real data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


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


def shared_data(name: str) -> Path:
    """Path of a real data set in ../shared/data, or skip the test with a message."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (it lives beside the checkout in shared/data)")
    return path
