"""Example scenes for calibration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def example_masks(tmp_path_factory, make_example):
    """The default smooth-textured object, 24 views at 160x120, for automatic masks."""
    return make_example(
        tmp_path_factory.mktemp("calib") / "smooth", views=24, size=(160, 120), texture="smooth", test_views=0, seed=0
    )
