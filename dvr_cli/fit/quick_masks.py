"""Masks from a quick fit, for photos whose automatic masks are distrusted (an object hung on a
wall or held before a room: no table under it, background at many depths).

The photos are fitted without masks for QUICK_ITERS iterations in a temporary folder; the object
is separated from the fit's surface (:mod:`dvr_cli.mesh.separate`: the wall or table as a plane
reaching past it, the connected part at the cameras' focus); each photo's mask is the object's
silhouette in the fit's render at SEPARATION_SIZE pixels brought to the photo's size, and its
confidence the mask's agreement with the object's cells projected into the view. `dvr calibrate
--masks auto` and `dvr fit --masks auto` take them when most sparse-point masks are distrusted
(:func:`dvr_cli.calib.scene_masks.mask_scene`'s ``fallback``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..calib.automask import mask_confidence
from ..config import FitConfig
from ..errors import DvrError
from ..mesh.separate import derived_mask, separate_renders, separation_renders
from ..run import load_run
from ..scene.types import Scene
from .trainer import fit

#: Iterations of the quick fit (about a minute and a half on 2 CPU cores).
QUICK_ITERS = 400


def quick_fit_masks(
    scene: Scene, iters: int = QUICK_ITERS, log: Callable[[str], None] | None = None
) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Per view of ``scene`` (world cameras, images) the object's mask (H, W) bool from a quick fit
    without masks, and (N_v,) confidences; None, with one line to ``log``, when no object separates
    from the fit's surface or the fit fails."""
    cfg = FitConfig.from_preset("fast", iters=iters, holdout=0, object_share=0.0, preview_every_s=1e9)
    with tempfile.TemporaryDirectory(prefix="dvr-quick-fit-") as tmp:
        try:
            fit(scene.without_masks(), cfg, Path(tmp) / "run")
            run = load_run(Path(tmp) / "run")
        except DvrError as error:
            if log:
                log(f"no masks from a quick fit: {error}")
            return None
        unit = [scene.normalization.camera_to_unit(view.camera) for view in scene.views]
        renders, small = separation_renders(run.model, unit)
        found = separate_renders(renders, small)
        if found.region is None:
            if log:
                log(f"no masks from a quick fit: {found.reason}")
            return None
    sizes = [(view.camera.width, view.camera.height) for view in scene.views]
    masks = [derived_mask(out, camera, found.region, size)[0] for out, camera, size in zip(renders, small, sizes)]
    return masks, mask_confidence(unit, masks, found.region.centres(), found.region.side)
