"""The fit's data: the training views in the unit frame, their rays drawn step by step (sampler.py),
and the sight lines to sparse points triangulated from the photos (sightlines.py), apart from the loop.

Built once per fit (nerfstudio's DataManager); the loop asks it for the next :class:`RayBatch`. Every
random draw comes from the trainer's ``generator``, whose state the checkpoint keeps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ..calib.triangulate import SparsePoints, triangulate
from ..config import FitConfig
from ..fields.background import median_colours
from ..files import to_uint8
from ..model import RayBatch
from ..run import SPARSE
from ..scene.types import Scene
from . import distributed
from .sightlines import sight_lines


class FitData:
    """The training views of a fit and their rays.

    Attributes: ``views`` (the training views), ``cameras`` (theirs in the unit frame), ``masks``
    ((H, W) bool per view, or None each without masks), ``has_masks``, ``sampler`` (this process's
    share of ``cfg.sampler.rays_per_step``). Arguments: ``scene`` the whole scene, ``train`` the
    indices of the views fitted, ``run_dir`` where the sparse points are kept (RUN/sparse.npz,
    triangulated once: a resume reads them back), ``generator`` the ray streams' RNG.
    """

    def __init__(
        self,
        scene: Scene,
        train: list[int],
        cfg: FitConfig,
        run_dir: Path,
        device: torch.device,
        generator: torch.Generator,
    ):
        train_scene = scene.subset(train)
        self.views = train_scene.views
        self.cameras = train_scene.unit_cameras()
        self.has_masks = train_scene.has_masks
        self.masks = [v.mask for v in self.views] if self.has_masks else [None] * len(self.cameras)
        lines = None
        if cfg.losses.w_sparse > 0:
            sparse = _sparse_points(train_scene, Path(run_dir) / SPARSE)
            lines = sight_lines(sparse, self.cameras, self.masks, scene.normalization.to_unit, device)
        share = dataclasses.replace(cfg.sampler, rays_per_step=distributed.ray_share(cfg.sampler.rays_per_step))
        self.sampler = share.setup(self.views, self.cameras, scene.normalization.scale, device, generator, lines)

    def colours(self) -> np.ndarray:
        """(V, 3) the median colour of each training photo (where a background model starts)."""
        return median_colours([v.image for v in self.views])

    def sample(self) -> RayBatch:
        """The rays of the next step."""
        return self.sampler.sample()


def _sparse_points(scene: Scene, path: Path) -> SparsePoints:
    """The points triangulated from ``scene``'s photos: read from ``path`` if there (a resume),
    else triangulated and written there."""
    if path.is_file():
        return SparsePoints.load(path)
    sparse = triangulate([to_uint8(v.image) for v in scene.views], [v.camera for v in scene.views])
    if distributed.is_writer():
        sparse.save(path)
    return sparse
