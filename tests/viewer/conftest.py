"""Fixtures of the viewer tests: a small example scene and a short fit of it with held-out scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from runs import fitted_run


@pytest.fixture(scope="package")
def viewer_example(tmp_path_factory, make_example) -> Path:
    """An 8-view 48x48 example scene with its ground-truth coloured mesh.ply."""
    return make_example(
        tmp_path_factory.mktemp("viewer") / "scene", views=8, size=(48, 48), test_views=0, colmap_points=20
    )


@pytest.fixture(scope="package")
def viewer_run(viewer_example) -> Path:
    """A 4-iteration CPU fit holding out every 4th view (so eval.json has per-view scores)."""
    return fitted_run(viewer_example, viewer_example.parent / "runs" / "ex", holdout=4)
