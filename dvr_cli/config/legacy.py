"""Configs saved by older dvr: the flat form (every setting at the top), the nested form whose parts
held flat names (the field a string switch), and settings added since. The one migration."""

from __future__ import annotations

from pathlib import Path

from .flat import FIELD, PLACES, nest

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
    "object_share": 0.0,
}
#: The grid field's shading normals took the smoothness loss's step (its default where that was 0).
SHADING_FD_STEP = 0.008


def saved_flat(saved: dict) -> dict:
    """A saved config in any form -> its settings by flat alias: today's nested form (the field's
    ``kind`` in its part) through the parts' aliases, the older forms by merging their parts."""
    field = saved.get(FIELD)
    if not (isinstance(field, dict) and "kind" in field):
        flat = {}
        for key, value in saved.items():
            flat.update(value if isinstance(value, dict) else {key: value})
        return flat
    alias = {(place.part, place.attribute): name for name, place in PLACES.items()}
    flat = {}
    for key, value in saved.items():
        if isinstance(value, dict):
            flat.update({alias.get((key, attribute), f"{key}.{attribute}"): v for attribute, v in value.items()})
        else:
            flat[key] = value
    return flat


def migrate(saved: dict, source: str | Path = "config") -> dict:
    """A saved config, flat (before 2026-12-05), nested or today's, in today's nested JSON form: the
    settings it predates take the value it ran with (:data:`LEGACY_VALUES`, and ``shading_fd_step``);
    DvrError naming ``source`` for an unknown key."""
    flat = {**LEGACY_VALUES, **saved_flat(saved)}
    if "shading_fd_step" not in flat:
        flat["shading_fd_step"] = flat.get("normal_fd_step") or SHADING_FD_STEP
    return nest(flat, source)
