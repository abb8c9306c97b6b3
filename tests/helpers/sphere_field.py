"""An analytic coloured sphere Field and a stand-in for a loaded run (for mesh tests)."""

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

RADIUS = 0.5
SHARPNESS = 20.0
NORMALIZATION = Normalization(center=np.array([0.3, -0.2, 1.0]), scale=2.0)


def sphere_color(points: np.ndarray) -> np.ndarray:
    """(N, 3) unit-frame points -> (N, 3) smooth RGB in [0.1, 0.9]."""
    return (0.5 + 0.4 * np.sin(3.0 * np.asarray(points) + np.array([0.0, 1.0, 2.0]))).astype(np.float32)


class SphereField(Field):
    """logit = k (R - |p|), texture = sphere_color(p)."""

    def __init__(self, radius: float = RADIUS):
        super().__init__()
        self.radius = radius
        # The renderer takes device and dtype from the first parameter.
        self.anchor = torch.nn.Parameter(torch.zeros(0))

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        return SHARPNESS * (self.radius - points.norm(dim=-1))

    def texture(
        self, points: torch.Tensor, dirs: torch.Tensor | None = None, normals: torch.Tensor | None = None
    ) -> torch.Tensor:
        return torch.as_tensor(sphere_color(points.cpu().numpy()), device=points.device)


def sphere_run(run_dir: Path, radius: float = RADIUS) -> Run:
    """A loaded run (as dvr_cli.run.load_run returns) whose field is the analytic sphere."""
    record = SceneRecord(NORMALIZATION, cameras=[], images=[], masks=[], train=[], holdout=[])
    return Run(
        DVRModel(FitConfig(), SphereField(radius), OccupancyGrid.full(8)), record, Path(run_dir), torch.device("cpu"), 7
    )
