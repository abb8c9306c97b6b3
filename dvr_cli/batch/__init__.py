"""Many scenes, one command: a manifest or a folder of scenes, one Ray task per scene.

``read_scenes(manifest_or_folder) -> list[SceneSpec]``, ``run_batch(specs, out, Cluster(...))
-> BatchReport`` (writes OUT/<scene>/ run folders, OUT/batch.json, OUT/batch.csv);
``process_scene`` is one scene's calibrate -> fit -> export -> eval, without Ray.
"""

from .manifest import SceneSpec, read_scenes
from .runner import BatchReport, Cluster, SceneRow, run_batch
from .scene import ExportOptions, SceneResult, process_scene

__all__ = [
    "BatchReport",
    "Cluster",
    "ExportOptions",
    "SceneResult",
    "SceneRow",
    "SceneSpec",
    "process_scene",
    "read_scenes",
    "run_batch",
]
