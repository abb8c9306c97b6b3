"""Manifests of tiny fits for the `dvr batch` tests."""

from __future__ import annotations

from pathlib import Path

import yaml

#: FitConfig keys of a fit of a few seconds (every scene of these tests sets them in its manifest entry).
TINY = dict(
    rays_per_step=128,
    views_per_step=2,
    grid_resolutions=[8, 16],
    hash_resolutions=[],
    mlp_hidden=16,
    samples_schedule=[[0, 16]],
    occ_grid_res=16,
    occ_grid_every=4,
)


def write_manifest(path: Path, entries: list[dict]) -> Path:
    """A YAML manifest of ``entries``, each with the TINY config unless it sets its own values."""
    path.write_text(yaml.safe_dump({"scenes": [{**TINY, **entry} for entry in entries]}))
    return path
