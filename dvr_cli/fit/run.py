"""The run folder that `dvr fit` writes and every later command reads.

    RUN/config.json            FitConfig of the fit
    RUN/scene.json             normalisation, world cameras, image/mask paths, how the scene was
                               loaded, train and held-out view indices
    RUN/checkpoints/latest.pt  field + optimiser + RNG state (atomic, see checkpoint.py)
    RUN/metrics.jsonl          one JSON object per logged iteration
    RUN/previews/iter_XXXXXX.png
    runs/latest -> RUN         relative symlink next to the run folder, to the newest run
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import FitConfig
from ..errors import DvrError
from ..fields import Field, build_field
from ..render.occgrid import OccupancyGrid
from ..runtime import resolve_device
from ..scene.types import Normalization, Scene
from .checkpoint import load_checkpoint

CONFIG = "config.json"
SCENE = "scene.json"
CHECKPOINT = Path("checkpoints") / "latest.pt"
METRICS = "metrics.jsonl"
PREVIEWS = "previews"
LATEST = "latest"


def default_run_dir(scene_name: str, root: Path = Path("runs")) -> Path:
    """runs/<scene-name>-<YYYYmmdd-HHMMSS>."""
    return Path(root) / f"{scene_name or 'scene'}-{time.strftime('%Y%m%d-%H%M%S')}"


def holdout_split(n_views: int, every: int) -> tuple[list[int], list[int]]:
    """(train, held-out) view indices: with every = K > 0 view i is held out when i % K == K // 2."""
    held = [i for i in range(n_views) if every > 0 and i % every == every // 2]
    return [i for i in range(n_views) if i not in held], held


def scene_info(scene: Scene, train: list[int], holdout: list[int]) -> dict:
    """The content of scene.json for ``scene`` (cameras in world units, absolute paths)."""
    cameras = []
    for view in scene.views:
        image = str(Path(view.image_path).resolve()) if view.image_path else None
        mask = str(Path(view.mask_path).resolve()) if view.mask_path else None
        cameras.append(view.camera.to_json(image, mask))
    return {
        "normalization": scene.normalization.to_json(),
        "inputs": scene.meta.get("load_args"),
        "source": str(Path(scene.source).resolve()) if scene.source else None,
        "cameras": cameras,
        "train": list(train),
        "holdout": list(holdout),
    }


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temp file + os.replace, so readers never see half a file."""
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=2))


def append_metrics(run_dir: Path, record: dict) -> None:
    with open(Path(run_dir) / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")


def truncate_metrics(run_dir: Path, iteration: int) -> None:
    """Drop records past ``iteration``: a fit resumed from an older checkpoint logs them again."""
    path = Path(run_dir) / METRICS
    if path.is_file():
        lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["iter"] <= iteration]
        write_text_atomic(path, "".join(line + "\n" for line in lines))


def update_latest_link(run_dir: Path) -> None:
    """Point ``<parent>/latest`` at ``run_dir`` (relative link, swapped atomically).

    Leaves a ``latest`` that is a real file or folder alone: it is not ours to replace.
    """
    run_dir = Path(run_dir)
    link = run_dir.parent / LATEST
    if run_dir.name == LATEST or (link.exists() and not link.is_symlink()):
        return
    tmp = run_dir.parent / f".{LATEST}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, link)


@dataclass
class LoadedRun:
    """A fitted run, ready to export, render or evaluate.

    Attributes:
        cfg: the run's FitConfig.
        field: the fitted field, eval mode, on ``device``.
        normalization: world <-> unit frame.
        scene_info: scene.json as a dict (world cameras, paths, train/holdout indices, inputs).
        occ_grid: the occupancy bit-grid at the checkpoint (for faster rendering), on ``device``.
        run_dir: the resolved run folder.
        device: where the field lives.
        iteration: iterations fitted.
    """

    cfg: FitConfig
    field: Field
    normalization: Normalization
    scene_info: dict
    occ_grid: OccupancyGrid
    run_dir: Path
    device: torch.device
    iteration: int


def resolve_run_dir(run_dir: str | Path | None) -> Path:
    """``run_dir`` or, when None, the target of ./runs/latest; DvrError when absent."""
    if run_dir is None:
        latest = Path("runs") / LATEST
        if not latest.exists():
            raise DvrError("no run given and runs/latest does not exist (run `dvr fit` first or name a run folder)")
        run_dir = latest
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DvrError("not a run folder", run_dir)
    return run_dir.resolve()


def load_run(run_dir: str | Path | None = None, device: str = "auto") -> LoadedRun:
    """Load a run folder (``None``: ./runs/latest); DvrError for a folder without a checkpoint."""
    run_dir = resolve_run_dir(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        raise DvrError(f"no checkpoint ({CHECKPOINT}): not a finished or started `dvr fit` run", run_dir)
    cfg = FitConfig.load(run_dir / CONFIG)
    try:
        info = json.loads((run_dir / SCENE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DvrError(f"cannot read {SCENE} ({exc})", run_dir) from None
    state = load_checkpoint(run_dir / CHECKPOINT, cfg)
    dev = resolve_device(device)
    field = build_field(cfg)
    field.load_state_dict(state["field"])
    field.to(dev).eval()
    grid = OccupancyGrid.from_state_dict(state["occ_grid"]).to(dev)
    return LoadedRun(cfg, field, Normalization.from_json(info["normalization"]), info, grid, run_dir, dev,
                     int(state["iteration"]))


def load_run_scene(run: LoadedRun) -> Scene:
    """Reload the run's scene (all views, images included) from the inputs recorded in scene.json."""
    from ..scene import load_scene

    inputs = run.scene_info.get("inputs")
    if not inputs:
        raise DvrError(f"{SCENE} does not record how the scene was loaded", run.run_dir)
    scene = load_scene(**inputs)
    if len(scene) != len(run.scene_info["cameras"]):
        raise DvrError(f"the scene now has {len(scene)} views, the run was fitted on {len(run.scene_info['cameras'])}",
                       inputs["images"])
    scene.normalization = run.normalization  # the frame the field was fitted in, whatever the loader now derives
    return scene
