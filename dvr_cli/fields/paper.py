"""The published DVR network: one residual MLP with an occupancy head and a texture head.

Niemeyer et al. 2020, multi-view setting (im2mesh/dvr/models/decoder.py without the image
encoder): fc_p 3 -> H, ``blocks`` ResnetBlockFC(H), heads on relu(x): H -> 1 (occupancy logit)
and H -> 3 (sigmoid RGB). No positional encoding. With H = 512 and 5 blocks: ~2.63M parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from ..settings import int_at_least, setting
from .base import AT_LEAST_1, Field, FieldConfig, check_points, sphere_prior_logit
from .sh import sh_directional_count, sh_rgb


class ResnetBlockFC(nn.Module):
    """x + fc_1(relu(fc_0(relu(x)))) with fc_1 zero-initialised (the block starts as identity)."""

    def __init__(self, width: int):
        super().__init__()
        self.fc_0 = nn.Linear(width, width)
        self.fc_1 = nn.Linear(width, width)
        nn.init.zeros_(self.fc_1.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc_1(F.relu(self.fc_0(F.relu(x))))


class PaperField(Field):
    """DVR's decoder; occupancy logit = network + sphere_prior_logit(p, init_radius, prior_sharpness).

    Initialisation: the residual blocks start as identities (DVR's zero fc_1) and both heads start
    with weights scaled by ``head_scale`` and zero bias, so at step 0 the logit is the analytic
    sphere prior up to a small perturbation and the colour is ~0.5 grey.
    """

    per_point = "features"

    def __init__(
        self,
        hidden: int = 512,
        blocks: int = 5,
        init_radius: float = 0.5,
        prior_sharpness: float = 10.0,
        head_scale: float = 0.01,
        sh_degree: int = 0,
    ):
        super().__init__()
        self.init_radius = float(init_radius)
        self.prior_sharpness = float(prior_sharpness)
        self.fc_p = nn.Linear(3, hidden)
        self.blocks = nn.ModuleList(ResnetBlockFC(hidden) for _ in range(blocks))
        self.occ_head = nn.Linear(hidden, 1)
        self.sh_degree = int(sh_degree)
        self.rgb_head = nn.Linear(hidden, 3 + 3 * sh_directional_count(self.sh_degree))  # see sh.sh_rgb
        with torch.no_grad():
            for head in (self.occ_head, self.rgb_head):
                head.weight.mul_(head_scale)
                head.bias.zero_()

    def features(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) -> (N, hidden) relu activations fed to both heads."""
        check_points(points)
        x = self.fc_p(points)
        for block in self.blocks:
            x = block(x)
        return F.relu(x)

    def _logits(self, points: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return self.occ_head(feats).squeeze(-1) + sphere_prior_logit(points, self.init_radius, self.prior_sharpness)

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        return self._logits(points, self.features(points))

    def texture(
        self, points: torch.Tensor, dirs: torch.Tensor | None = None, normals: torch.Tensor | None = None
    ) -> torch.Tensor:
        return sh_rgb(self.rgb_head(self.features(points)), dirs, self.sh_degree)

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.features(points)
        return self._logits(points, feats), sh_rgb(self.rgb_head(feats), None, self.sh_degree)


@dataclass
class PaperFieldConfig(FieldConfig):
    """DVR's network's settings (flat aliases ``paper_hidden``, ``paper_blocks``)."""

    kind: ClassVar[str] = "paper"
    _target: ClassVar[type] = PaperField
    FLAT: ClassVar[dict[str, str]] = {"hidden": "paper_hidden", "blocks": "paper_blocks"}

    hidden: int = setting(512, check=int_at_least(1), want=AT_LEAST_1)
    blocks: int = setting(5, check=int_at_least(1), want=AT_LEAST_1)

    def setup(self) -> PaperField:
        return self._target(
            self.hidden,
            self.blocks,
            init_radius=self.init_radius,
            prior_sharpness=self.prior_sharpness,
            head_scale=self.head_scale,
            sh_degree=self.sh_degree,
        )
