"""The real data sets beside the checkout (``../shared/data``, read only): a test that needs one is
marked ``real_data`` and skipped, with the reason, where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_data(name: str) -> Path:
    """Path of the data set ``name`` in ../shared/data, or skip the test with a message."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (it lives beside the checkout in shared/data)")
    return path
