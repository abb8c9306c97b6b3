"""Configs saved by older dvr: the flat form (every setting at the top) and settings added since."""

from __future__ import annotations

from pathlib import Path

from .fitconfig import flatten, nest

#: Settings added after runs were first saved, with the value the older runs ran with.
LEGACY_VALUES = {
    "w_sparse": 0.0,
    "sparse_per_step": 512,
    "shading_hidden": 0,
    "renderer": "surface",
    "stop_at_hit": False,
    "compile": False,
    "background": "colour",
    "kernel": "torch",
    "sparse_adam": False,
}
#: The grid field's shading normals took the smoothness loss's step (its default where that was 0).
SHADING_FD_STEP = 0.008


def migrate(saved: dict, source: str | Path = "config") -> dict:
    """A saved config, flat (before 2026-12-05) or nested, in today's nested JSON form: the settings it
    predates take the value it ran with (:data:`LEGACY_VALUES`, and ``shading_fd_step``); DvrError
    naming ``source`` for an unknown key."""
    flat = {**LEGACY_VALUES, **flatten(saved)}
    if "shading_fd_step" not in flat:
        flat["shading_fd_step"] = flat.get("normal_fd_step") or SHADING_FD_STEP
    return nest(flat, source)
