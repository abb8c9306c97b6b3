"""What a resumed fit continues from when it is not given again: the run's config and its scene."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..config import FitConfig
from ..errors import DvrError
from ..run import CONFIG, SCENE, SceneRecord
from ..scene import load_scene
from ..scene.types import Scene


def resumed_config(run_dir: Path, preset: str | None = None, **overrides) -> FitConfig:
    """The run's saved config with ``overrides`` by flat name (None values ignored; a checkpoint
    accepts only changes of how long or where it runs, see run.checkpoint.RESUME_FREE_KEYS);
    DvrError when ``preset`` is not the run's."""
    saved = FitConfig.load(Path(run_dir) / CONFIG)
    if preset is not None and preset != saved.preset:
        raise DvrError(f"--preset {preset}: the run was fitted with preset '{saved.preset}'", run_dir)
    return saved.replaced(**overrides)


def recorded_scene(run_dir: Path, warn: Callable[[str], None] | None = None, **moved) -> Scene:
    """The run's scene, reloaded from the inputs scene.json records (as it was loaded for the fit);
    ``moved``: ``load_scene`` arguments that replace recorded ones (the photos found elsewhere)."""
    inputs = {**(SceneRecord.load(Path(run_dir) / SCENE).inputs or {}), **moved}
    if not inputs.get("images"):
        raise DvrError(f"{SCENE} does not record the images: pass IMAGES (and --cameras)", run_dir)
    return load_scene(**inputs, warn=warn)
