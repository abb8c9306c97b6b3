"""The interface every field backbone implements; the renderer knows nothing else."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ..errors import DvrError
from ..settings import Settings, integer, number_in, setting

AT_LEAST_1 = "an integer >= 1"
NON_NEGATIVE = "a number >= 0"


def tau_logit(tau: float) -> float:
    """The occupancy logit of the surface level ``tau``: log(tau / (1 - tau)) (0 for tau = 0.5)."""
    if not 0.0 < tau < 1.0:
        raise DvrError(f"tau must lie in (0, 1), got {tau}")
    return math.log(tau / (1.0 - tau))


def check_points(points: torch.Tensor, name: str = "points") -> None:
    """Raise a clear error unless ``points`` is an (N, 3) floating tensor."""
    if points.ndim != 2 or points.shape[1] != 3 or not points.is_floating_point():
        raise ValueError(f"{name} must be a floating (N, 3) tensor, got {tuple(points.shape)} {points.dtype}")


def sphere_prior_logit(points: torch.Tensor, radius: float, sharpness: float) -> torch.Tensor:
    """Fixed analytic occupancy prior of a centred sphere: sharpness * (radius - |p|).

    points: (N, 3). Returns (N,). Added to a network's logit output so that a freshly
    initialised field already has a surface (the sphere |p| = radius at tau = 0.5) to render;
    the network then learns the residual. |df/dp| = sharpness at the start, which keeps the
    implicit-gradient denominator df/dp . w well away from 0.
    """
    return sharpness * (radius - points.norm(dim=-1))


class Field(nn.Module):
    """Occupancy f(p) and texture t(p) over the unit cube [-1, 1]^3.

    Occupancy is returned as a logit: f(p) = sigmoid(logit). The surface is f = tau, i.e.
    logit = log(tau / (1 - tau)) (0 for tau = 0.5). Inside the object f > tau.
    """

    #: the method holding the per-point work (encoding + MLP) that fields/compiled.py may compile
    per_point: str | None = None
    #: resolution levels that the fit's coarse-to-fine schedule switches on one after the other
    n_levels: int = 1

    def set_active_levels(self, n: int) -> None:
        """Use only the ``n`` coarsest levels (the fit's schedule calls it before every step); a field
        of one level has nothing to switch."""

    def lazy_parameters(self) -> list[nn.Parameter]:
        """Parameters of which a step touches few entries, for Adam's lazy update (fields/lazy_adam.py)."""
        return []

    def occupancy_logits(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) in the unit cube -> (N,) occupancy logits."""
        raise NotImplementedError

    def texture(
        self, points: torch.Tensor, dirs: torch.Tensor | None = None, normals: torch.Tensor | None = None
    ) -> torch.Tensor:
        """points: (N, 3) -> (N, 3) RGB in [0, 1] seen along the unit view directions ``dirs``
        (N, 3); without ``dirs``, the colour averaged over directions (a view-independent field
        ignores them). ``normals``: (N, 3) outward unit normals at ``points`` when the caller
        already has them (a field that shades by the normal computes them itself otherwise)."""
        raise NotImplementedError

    def shading_normals(self, points: torch.Tensor) -> torch.Tensor:
        """points: (N, 3) -> (N, 3) the outward unit normals ``texture`` shades with when the caller
        gives none (detached): here the occupancy gradient's; a backbone that was fitted with
        other normals (finite differences) returns those, so that a colour read outside the fit
        sees the normals the fit trained it with."""
        from .normals import normals  # normals.py builds on this module

        return normals(self, points)

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points: (N, 3) -> (logits (N,), rgb (N, 3)); backbones override to share features."""
        return self.occupancy_logits(points), self.texture(points)


@dataclass
class FieldConfig(Settings):
    """The settings every field backbone shares; a backbone's config (``GridFieldConfig``,
    ``PaperFieldConfig``) adds its own, names its ``kind`` (config.json's ``field.kind``) and builds
    the field (``setup()``, torch's global RNG)."""

    kind: ClassVar[str] = ""

    # occupancy starts as a sphere of this radius (unit-cube units)
    init_radius: float = setting(0.5, check=number_in(0, 1, open_low=True), want="a number in (0, 1]")
    # slope of that sphere prior's logit, per unit-cube unit
    prior_sharpness: float = setting(10.0, check=number_in(0, open_low=True), want="a number > 0")
    # output heads start scaled by this (the prior dominates at first)
    head_scale: float = setting(0.01, check=number_in(0), want=NON_NEGATIVE)
    # view-dependent colour: spherical harmonics of the view direction up to this degree (0: none,
    # as in DVR); exported meshes keep the colour averaged over directions
    sh_degree: int = setting(2, check=lambda v: integer(v) and v in (0, 1, 2), want="0, 1 or 2")

    def prepare(self) -> None:
        """Anything the field needs once per machine before a fit's clock starts (a kernel's compile)."""

    def setup(self) -> Field:
        raise NotImplementedError
