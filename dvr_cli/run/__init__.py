"""A run: the folder `dvr fit` writes (file names, lock, checkpoints, scene record) and the
typed, loaded run that export, render, eval and the viewer take."""

from .folder import (
    CHECKPOINT,
    CONFIG,
    EVAL,
    EXPORT,
    EXPORTED_MESHES,
    LATEST,
    METRICS,
    PREVIEWS,
    RENDERS,
    SCENE,
    SPARSE,
    default_run_dir,
    resolve_run_dir,
    scene_name,
)
from .loaded import Run, load_run
from .lock import RunLock
from .record import SceneRecord, holdout_split

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "EVAL",
    "EXPORT",
    "EXPORTED_MESHES",
    "LATEST",
    "METRICS",
    "PREVIEWS",
    "RENDERS",
    "SCENE",
    "SPARSE",
    "Run",
    "RunLock",
    "SceneRecord",
    "default_run_dir",
    "holdout_split",
    "load_run",
    "resolve_run_dir",
    "scene_name",
]
