"""Occupancy bit-grid over [-1, 1]^3 for empty-space skipping while marching.

Cell (i, j, k) of a res^3 grid covers [-1 + i h, -1 + (i + 1) h] x ... with h = 2 / res; the
grid is indexed bits[i, j, k] with i along x. Only cells marked True are evaluated by
``find_surface``; the others count as outside. Both constructions are conservative: a cell is
dropped only when no part of it can hold surface (visual hull) or when the field is clearly
outside in it and in its neighbours (``update``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import DvrError
from ..fields.base import tau_logit
from ..scene.camera import Camera
from ..scene.hull import visual_hull
from ..settings import Settings, int_at_least, integer, setting
from .march import LogitFn, evaluate_chunked

MASKED_MARGIN = 10.0  # logits below the surface level given to cells outside the grid (masked)


def cell_centers(res: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(res^3, 3) centres -1 + (i + 0.5) h of all cells, in bits' [i, j, k] row-major order."""
    c = -1.0 + (torch.arange(res, device=device, dtype=dtype) + 0.5) * (2.0 / res)
    return torch.stack(torch.meshgrid(c, c, c, indexing="ij"), dim=-1).reshape(-1, 3)


def dilate_bits(bits: torch.Tensor, cells: int) -> torch.Tensor:
    """(R, R, R) bool -> the same grown by ``cells`` cells in every direction (Chebyshev ball)."""
    if cells <= 0:
        return bits
    grown = F.max_pool3d(bits[None, None].float(), kernel_size=2 * cells + 1, stride=1, padding=cells)
    return grown[0, 0] > 0


class OccupancyGrid:
    """bits: (res, res, res) bool, True = the cell may hold surface and is evaluated.

    hull: the same shape, the masks' visual hull when the grid was made from masks (else None):
    real surface lies inside it, so ``update`` never lets the bits leave it, and whatever the
    field holds outside it (floaters in space no training ray constrains) is never rendered.
    """

    def __init__(self, bits: torch.Tensor, hull: torch.Tensor | None = None):
        if bits.ndim != 3 or len(set(bits.shape)) != 1 or bits.dtype != torch.bool:
            raise ValueError(f"bits must be a cubic (R, R, R) bool tensor, got {tuple(bits.shape)} {bits.dtype}")
        if hull is not None and hull.shape != bits.shape:
            raise ValueError(f"hull {tuple(hull.shape)} must match bits {tuple(bits.shape)}")
        self.bits = bits
        self.hull = hull

    @property
    def res(self) -> int:
        return self.bits.shape[0]

    @property
    def fraction(self) -> float:
        """Share of cells marked occupied."""
        return float(self.bits.float().mean())

    def to(self, device) -> "OccupancyGrid":
        return OccupancyGrid(self.bits.to(device), None if self.hull is None else self.hull.to(device))

    def occupied(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) -> (N,) bool, True where the point's cell is marked (False outside the cube).

        Points up to 1e-5 beyond a face (rounding of the marching's first/last sample) use the
        boundary cell.
        """
        if points.ndim != 2 or points.shape[1] != 3:
            raise ValueError(f"points must be (N, 3), got {tuple(points.shape)}")
        res = self.res
        in_cube = (points.abs() <= 1.0 + 1e-5).all(dim=1)
        idx = ((points + 1.0) * (0.5 * res)).floor().long().clamp_(0, res - 1)
        flat = (idx[:, 0] * res + idx[:, 1]) * res + idx[:, 2]
        return self.bits.to(points.device).reshape(-1)[flat] & in_cube

    # ------------------------------------------------------------ construction
    @classmethod
    def full(cls, res: int = 64, device=None) -> "OccupancyGrid":
        return cls(torch.ones(res, res, res, dtype=torch.bool, device=device))

    @classmethod
    def from_masks(
        cls, cameras_unit: list[Camera], masks: list[np.ndarray], res: int = 64, dilate: int = 1
    ) -> "OccupancyGrid":
        """The masks' visual hull (``scene.hull``), carved conservatively: a cell stands for its
        bounding ball grown by ``dilate`` cells (radius (sqrt(3)/2 + dilate) h, slack for mask and
        calibration error) plus 1.5 px of pixel rounding, and is dropped only when the hull rule
        drops that whole ball.

        cameras_unit: cameras in the unit frame; masks: (H, W) bool per camera (True = object).
        """
        radius = (math.sqrt(3.0) / 2.0 + dilate) * (2.0 / res)
        keep = visual_hull(
            cameras_unit, masks, cell_centers(res, dtype=torch.float64).numpy(), radius=radius, pixel_slack=1.5
        )
        hull = torch.from_numpy(keep).reshape(res, res, res)
        return cls(hull, hull.clone())

    @torch.no_grad()
    def update(
        self,
        logit_fn: LogitFn,
        tau: float = 0.5,
        margin_cells: int = 2,
        samples_per_cell: int = 2,
        logit_margin: float = 2.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> "OccupancyGrid":
        """Re-derive the bits from the field (in place; returns self).

        logit_fn: (P, 3) -> (P,) logits, evaluated at the centre and ``samples_per_cell - 1``
        uniformly jittered points of every cell. A cell is kept when
        max_samples logit > log(tau / (1 - tau)) - logit_margin, then the kept set is grown by
        ``margin_cells`` cells so surface moving during training stays inside. The old bits are
        not intersected in, only the visual hull (when there is one): surface the field has
        inside the hull is never cut. Points are made on the bits' device in ``dtype`` (the field's).
        """
        res = self.res
        device = self.bits.device
        centers = cell_centers(res, device=device, dtype=dtype)
        best = evaluate_chunked(logit_fn, centers).float()
        for _ in range(samples_per_cell - 1):
            jitter = torch.rand(centers.shape, generator=generator, device=device, dtype=dtype) - 0.5
            best = torch.maximum(best, evaluate_chunked(logit_fn, centers + jitter * (2.0 / res)).float())
        keep = (best > tau_logit(tau) - logit_margin).reshape(res, res, res)
        self.bits = dilate_bits(keep, margin_cells)
        if self.hull is not None:
            self.bits &= self.hull
        return self

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        return {"res": self.res, "bits": self.bits.cpu(), "hull": None if self.hull is None else self.hull.cpu()}

    def load_state_dict(self, state: dict) -> None:
        bits = state["bits"].to(torch.bool)
        if bits.shape != (state["res"],) * 3:
            raise DvrError(f"occupancy grid in checkpoint has shape {tuple(bits.shape)}, expected res {state['res']}")
        self.bits = bits.to(self.bits.device)
        hull = state.get("hull")
        self.hull = None if hull is None else hull.to(torch.bool).to(self.bits.device)

    def masked(self, logit_fn: LogitFn, tau: float = 0.5) -> LogitFn:
        """``logit_fn`` with the logit set to logit(tau) - MASKED_MARGIN (clearly empty at level
        tau) in unoccupied cells, so that what is extracted from the field (marching cubes) is what
        the renderer can see."""
        outside = tau_logit(tau) - MASKED_MARGIN

        def fn(points: torch.Tensor) -> torch.Tensor:
            logits = logit_fn(points)
            return torch.where(self.occupied(points), logits, torch.full_like(logits, outside))

        return fn

    @classmethod
    def from_state_dict(cls, state: dict) -> "OccupancyGrid":
        grid = cls.full(int(state["res"]))
        grid.load_state_dict(state)
        return grid


@dataclass
class OccGridConfig(Settings):
    """The fit's empty-space skipping: a ``resolution``^3 bit-grid refreshed every ``update_every``
    iterations (flat aliases ``occ_grid_res``, ``occ_grid_every``)."""

    _target: ClassVar[type] = OccupancyGrid
    FLAT: ClassVar[dict[str, str]] = {"resolution": "occ_grid_res", "update_every": "occ_grid_every"}

    resolution: int = setting(64, check=lambda v: integer(v) and 2 <= v <= 512, want="an integer in [2, 512]")
    update_every: int = setting(200, check=int_at_least(1), want="an integer >= 1")

    def setup(self, cameras_unit: list[Camera], masks: list[np.ndarray | None]) -> OccupancyGrid:
        """The masks' visual hull when every view has a mask, else the whole cube (a fit without masks)."""
        if all(m is not None for m in masks):
            return self._target.from_masks(cameras_unit, masks, self.resolution)
        return self._target.full(self.resolution)
