"""A fitted run, loaded and typed: what export, render, eval and the viewer take."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import FitConfig
from ..errors import DvrError
from ..fields import Field
from ..files import read_json
from ..model import DVRModel
from ..render.occgrid import OccupancyGrid
from ..runtime import resolve_device
from ..scene.camera import Camera
from ..scene.types import Normalization, Scene
from .checkpoint import load_checkpoint
from .folder import CHECKPOINT, CONFIG, EVAL, EXPORT, EXPORTED_MESHES, SCENE, adopt_old_run, resolve_run_dir
from .record import SceneRecord


@dataclass
class Run:
    """A fitted run, ready to export, render or evaluate.

    Attributes:
        model: the fitted DVRModel (field, occupancy grid, background), eval mode, on ``device``.
        record: scene.json (normalisation, world cameras, paths, train / held-out split, inputs).
        run_dir: the resolved run folder.
        device: where the model lives.
        iteration: iterations fitted.
    """

    model: DVRModel
    record: SceneRecord
    run_dir: Path
    device: torch.device
    iteration: int

    @property
    def cfg(self) -> FitConfig:
        """The run's FitConfig."""
        return self.model.cfg

    @property
    def field(self) -> Field:
        """The fitted field."""
        return self.model.field

    @property
    def occ_grid(self) -> OccupancyGrid:
        """The occupancy bit-grid at the checkpoint (for faster rendering)."""
        return self.model.occ_grid

    @property
    def background(self) -> nn.Module | None:
        """The model of what lies past the cube (fields/background.py) of a fit without masks; None
        for a fit with masks."""
        return self.model.background

    @property
    def normalization(self) -> Normalization:
        return self.record.normalization

    @property
    def cameras(self) -> list[Camera]:
        """Every view's camera, world frame, scene order."""
        return self.record.cameras

    @property
    def train(self) -> list[int]:
        return self.record.train

    @property
    def holdout(self) -> list[int]:
        return self.record.holdout

    def render(
        self,
        camera: Camera,
        n_samples: int | None = None,
        background=None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Render the field from the world ``camera`` (the model's ``render_camera``).

        Returns numpy arrays: rgb (H, W, 3), depth (H, W) distance along the ray in world units
        (0 on miss), normal (H, W, 3), mask (H, W) bool. ``n_samples``: marching samples (default
        the run's ``render_samples``); ``background``: the colour (3,) where no surface is hit, or
        None: the run's background model (a fit without masks), else white.
        """
        out = self.model.render_camera(self.normalization.camera_to_unit(camera), n_samples, background, progress)
        out["depth"] = out["depth"] * np.float32(self.normalization.scale)
        return out

    def exported_mesh(self) -> Path | None:
        """RUN/export/mesh.{ply,glb,obj}, the first of them present, or None."""
        paths = (self.run_dir / EXPORT / name for name in EXPORTED_MESHES)
        return next((path for path in paths if path.is_file()), None)

    def view_scores(self) -> dict[str, dict]:
        """View name -> the field's scores of that view in RUN/eval.json (written by `dvr eval` or
        `dvr fit --holdout`); empty when there is no eval.json or it scored no images."""
        if not (self.run_dir / EVAL).is_file():
            return {}
        images = read_json(self.run_dir / EVAL).get("images") or {}
        return {v["name"]: v for v in images.get("views", []) if "name" in v}

    def scene(self) -> Scene:
        """Reload the run's scene (all views, images included) from the inputs scene.json records,
        in the frame the field was fitted in."""
        from ..scene import load_scene

        if not self.record.inputs:
            raise DvrError(f"{SCENE} does not record how the scene was loaded", self.run_dir)
        scene = load_scene(**self.record.inputs)
        if len(scene) != len(self.cameras):
            raise DvrError(
                f"the scene now has {len(scene)} views, the run was fitted on {len(self.cameras)}",
                self.record.inputs.get("images"),
            )
        scene.normalization = self.normalization
        return scene


def load_run(run_dir: str | Path | None = None, device: str = "auto") -> Run:
    """Load a run folder (``None``: ./runs/latest).

    Raises DvrError (one line, naming the file) for a folder without a checkpoint, and for a
    missing or malformed config.json, scene.json or checkpoint.
    """
    run_dir = resolve_run_dir(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        raise DvrError(f"no checkpoint ({CHECKPOINT}): not a finished or started `dvr fit` run", run_dir)
    cfg = FitConfig.load(run_dir / CONFIG)
    record = SceneRecord.load(run_dir / SCENE)
    state = load_checkpoint(run_dir / CHECKPOINT, cfg)
    dev = resolve_device(device)
    model = DVRModel.from_checkpoint(cfg, state, len(record.train), run_dir / CHECKPOINT, dev).eval()
    try:
        adopt_old_run(run_dir)  # a run from before the marker: what export, eval and render write there is dvr's
    except OSError:
        pass  # a read-only run is still read
    return Run(model, record, run_dir, dev, int(state["iteration"]))
