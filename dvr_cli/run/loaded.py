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
from ..fields.background import make_background
from ..files import read_json
from ..render.occgrid import OccupancyGrid
from ..render.renderer import render_image
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
        cfg: the run's FitConfig.
        field: the fitted field, eval mode, on ``device``.
        occ_grid: the occupancy bit-grid at the checkpoint (for faster rendering), on ``device``.
        record: scene.json (normalisation, world cameras, paths, train / held-out split, inputs).
        run_dir: the resolved run folder.
        device: where the field lives.
        iteration: iterations fitted.
        background: the model of what lies past the cube (fields/background.py) of a fit without
            masks, eval mode, on ``device``; None for a fit with masks.
    """

    cfg: FitConfig
    field: Field
    occ_grid: OccupancyGrid
    record: SceneRecord
    run_dir: Path
    device: torch.device
    iteration: int
    background: nn.Module | None = None

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
        """Render the field from the world ``camera`` (``render_image`` with the run's settings).

        Returns numpy arrays: rgb (H, W, 3), depth (H, W) distance along the ray in world units
        (0 on miss), normal (H, W, 3), mask (H, W) bool. ``n_samples``: marching samples (default
        the run's ``render_samples``); ``background``: the colour (3,) where no surface is hit, or
        None: the run's background model (a fit without masks), else white.
        """
        rendering = self.cfg.rendering
        model = self.background if background is None else None
        out = render_image(
            self.field,
            self.normalization.camera_to_unit(camera),
            n_samples or rendering.render_samples,
            tau=rendering.tau,
            occ_grid=self.occ_grid,
            background=(1.0, 1.0, 1.0) if background is None else background,
            progress=progress,
            n_secant=rendering.n_secant,
            background_model=model,
            background_samples=rendering.background_samples,
        )
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
    field = cfg.field.setup()
    try:
        field.load_state_dict(state["field"])
    except RuntimeError:
        raise DvrError(f"the checkpoint's field does not match {CONFIG}", run_dir / CHECKPOINT) from None
    field.to(dev).eval()
    grid = OccupancyGrid.from_state_dict(state["occ_grid"]).to(dev)
    try:
        adopt_old_run(run_dir)  # a run from before the marker: what export, eval and render write there is dvr's
    except OSError:
        pass  # a read-only run is still read
    background = None
    if "background" in state:
        background = _background(cfg, state["background"], len(record.train), run_dir / CHECKPOINT).to(dev).eval()
    return Run(cfg, field, grid, record, run_dir, dev, int(state["iteration"]), background)


def _background(cfg: FitConfig, state: dict, n_views: int, path: Path) -> nn.Module:
    """The run's background model (``cfg.rendering.background`` for ``n_views`` training photos)
    holding the checkpoint's ``state``; DvrError naming ``path`` when they do not match."""
    model = make_background(
        cfg.rendering.background, np.full((n_views, 3), 0.5, dtype=np.float32), cfg.rendering.background_grid
    )
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise DvrError(f"the checkpoint's background does not match {CONFIG}", path) from None
    return model
