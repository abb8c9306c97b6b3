"""An analytic field of :func:`tabletop_scene.table_and_wall_scene` and a stand-in for a loaded
run fitted without masks on it (the object's separation, its export and its display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dvr_cli.config import FitConfig
from dvr_cli.fields.base import Field
from dvr_cli.model import DVRModel
from dvr_cli.render.occgrid import OccupancyGrid
from dvr_cli.run import Run, SceneRecord
from dvr_cli.scene.types import Normalization
from tabletop_scene import WALL_X

#: The unit frame of these captures: the cube [-1, 1]^3 around (0, 0, 0.5), what a fit models.
FRAME = Normalization(np.array([0.0, 0.0, 0.5]), 1.0, "bbox")


class TabletopField(Field):
    """The occupancy of :func:`table_and_wall_scene` in the unit frame FRAME: logit = -k sdf of the
    union of the box, the sphere, a slab under the table's top and a slab behind the wall's face."""

    def __init__(self, table: bool, wall: bool):
        super().__init__()
        self.table, self.wall = table, wall
        self.anchor = torch.nn.Parameter(torch.zeros(0))  # the renderer takes device and dtype from it

    def occupancy_logits(self, p: torch.Tensor) -> torch.Tensor:
        lo, hi = torch.tensor([-0.35, -0.3, -0.5]), torch.tensor([0.35, 0.3, 0.0])
        q = (p - (lo + hi) / 2).abs() - (hi - lo) / 2
        box = q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0)
        sdf = torch.minimum(box, (p - torch.tensor([0.0, 0.0, 0.3])).norm(dim=-1) - 0.3)
        if self.table:
            sdf = torch.minimum(sdf, (p[:, 2] + 0.55).abs() - 0.05)
        if self.wall:
            sdf = torch.minimum(sdf, (p[:, 0] - WALL_X + 0.05).abs() - 0.05)
        return -60.0 * sdf

    def texture(self, points: torch.Tensor, dirs=None, normals=None) -> torch.Tensor:
        return 0.5 + 0.4 * torch.sin(3.0 * points)


def tabletop_run(run_dir: Path, cameras, table: bool = True, wall: bool = True) -> Run:
    """A loaded run fitted without masks whose field is :class:`TabletopField`, world frame = the scene's."""
    record = SceneRecord(
        FRAME,
        cameras=cameras,
        images=[None] * len(cameras),
        masks=[None] * len(cameras),
        train=list(range(len(cameras))),
        holdout=[],
    )
    return Run(
        DVRModel(FitConfig(), TabletopField(table, wall), OccupancyGrid.full(8)),
        record,
        run_dir,
        torch.device("cpu"),
        7,
    )
