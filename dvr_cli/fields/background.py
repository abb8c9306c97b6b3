"""What a ray sees past the region of interest (the unit cube) when no mask tells the object from
its surroundings; the volume renderer composites it behind the cube (render/background_rays.py).

Three models (``cfg.rendering.background``):
  'field': NeRF++'s background (Zhang et al. 2020): the space outside the sphere of radius R around
    the cube, parametrised over the inverted sphere (``inverted_sphere``), as a small dense grid of
    alpha and colour, sampled along each ray in inverse distance. It has parallax: the table and the
    wall behind a DTU object move between photos as they do in the photos;
  'envmap': a texture over the ray's direction (equirectangular), as if everything lay at infinity,
    times a per-photo exposure (gain and bias per colour channel);
  'colour': one learned colour per photo, b_v = sigmoid(beta_v) (runs saved before the others).
A held-out or novel view has no photo of its own: it takes the mean over the training photos (of
the colours, of the exposures).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BACKGROUNDS = ("field", "envmap", "colour")
# Starting colours are clamped into [EDGE, 1 - EDGE] so their logit is finite.
EDGE = 0.02
#: the sphere around the cube [-1, 1]^3: the background field lives outside it, so every one of its
#: samples lies behind what the cube holds
RADIUS = math.sqrt(3.0)
#: the field's samples start nearly transparent (sigmoid(-3) = 0.05 each): a ray's colour is then
#: spread over its whole depth range until the photos say where the surroundings are
START_ALPHA_LOGIT = -3.0


def _start_logits(colours: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.logit(torch.as_tensor(np.asarray(colours), dtype=torch.float32).clamp(EDGE, 1.0 - EDGE))


class PhotoColour(nn.Module):
    """colours: (V, 3) starting colours in [0, 1], one per training image (e.g. its median)."""

    def __init__(self, colours: np.ndarray | torch.Tensor):
        super().__init__()
        start = _start_logits(colours)
        if start.ndim != 2 or start.shape[1] != 3:
            raise ValueError(f"colours must be (V, 3), got {tuple(start.shape)}")
        self.logits = nn.Parameter(start)

    def forward(self, dirs: torch.Tensor, view_index: torch.Tensor | None) -> torch.Tensor:
        """dirs: (N, 3) (unused); view_index: (N,) long, each ray's training image, or None (a view
        of its own: the mean colour) -> (N, 3)."""
        colours = torch.sigmoid(self.logits)
        if view_index is None:
            return colours.mean(dim=0).expand(len(dirs), 3)
        return colours[view_index]


def equirect_uv(dirs: torch.Tensor) -> torch.Tensor:
    """dirs: (N, 3) unit -> (N, 2) grid_sample coordinates in [-1, 1]^2 of an equirectangular map:
    u = atan2(y, x) / pi (longitude), v = -asin(z) * 2 / pi (latitude, +z up at v = -1)."""
    lon = torch.atan2(dirs[:, 1], dirs[:, 0]) / math.pi
    lat = -torch.asin(dirs[:, 2].clamp(-1.0, 1.0)) * (2.0 / math.pi)
    return torch.stack([lon, lat], dim=1)


class EnvironmentMap(nn.Module):
    """A colour per ray direction (an equirectangular texture of ``height`` x 2 ``height`` texels,
    starting at ``colour`` (3,)) and a per-photo exposure: c = sigmoid(T(w)) * gain_v + bias_v for
    ``n_views`` photos (gain 1, bias 0 at the start)."""

    def __init__(self, colour: np.ndarray | torch.Tensor, n_views: int, height: int = 32):
        super().__init__()
        start = _start_logits(colour).reshape(3, 1, 1)
        self.texture = nn.Parameter(start.expand(3, height, 2 * height).clone())
        self.gain = nn.Parameter(torch.ones(n_views, 3))
        self.bias = nn.Parameter(torch.zeros(n_views, 3))

    def forward(self, dirs: torch.Tensor, view_index: torch.Tensor | None) -> torch.Tensor:
        """dirs: (N, 3) unit ray directions; view_index: (N,) long or None (the mean exposure) -> (N, 3)."""
        uv = equirect_uv(dirs).view(1, 1, -1, 2)
        colour = torch.sigmoid(
            F.grid_sample(self.texture[None], uv, align_corners=False, padding_mode="border")[0, :, 0].T
        )
        if view_index is None:
            return colour * self.gain.mean(dim=0) + self.bias.mean(dim=0)
        return colour * self.gain[view_index] + self.bias[view_index]


def inverted_sphere(points: torch.Tensor, radius: float = RADIUS) -> torch.Tensor:
    """NeRF++'s parametrisation of the space outside the sphere of ``radius``: points (M, 3) with
    |p| = r >= radius -> (M, 4) (p / r, radius / r): a unit direction and an inverse radius in (0, 1]."""
    r = points.norm(dim=1, keepdim=True)
    return torch.cat([points / r, radius / r], dim=1)


def contract(points: torch.Tensor, radius: float = RADIUS) -> torch.Tensor:
    """The inverted-sphere coordinate (u, s) = ``inverted_sphere(points)`` as a point of the unit
    ball, (M, 3): q = u (2 - s) / 2, so |q| = 1/2 on the sphere (q = p / (2 radius), continuous with
    the inside scaled the same way) and |q| -> 1 at infinity; a 3D grid over [-1, 1]^3 holds it."""
    inverted = inverted_sphere(points, radius)
    return inverted[:, :3] * (1.0 - 0.5 * inverted[:, 3:])


class InvertedSphereField(nn.Module):
    """Alpha and colour outside the sphere of ``radius``: a dense grid of ``resolution``^3 cells
    over the contracted coordinate (``contract``), four channels (alpha logit, colour logits),
    read trilinearly; starting nearly transparent (START_ALPHA_LOGIT) and at ``colour`` (3,)."""

    def __init__(self, colour: np.ndarray | torch.Tensor, resolution: int = 64, radius: float = RADIUS):
        super().__init__()
        self.radius = radius
        start = torch.cat([torch.tensor([START_ALPHA_LOGIT]), _start_logits(colour).reshape(3)])
        self.grid = nn.Parameter(start.reshape(4, 1, 1, 1).expand(4, resolution, resolution, resolution).clone())

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points: (M, 3) outside the sphere -> alpha logits (M,), colours (M, 3) in [0, 1]."""
        q = contract(points, self.radius).view(1, 1, 1, -1, 3)
        values = F.grid_sample(self.grid[None], q, align_corners=True)[0, :, 0, 0].T
        return values[:, 0], torch.sigmoid(values[:, 1:])

    def ray_samples(
        self, origins: torch.Tensor, dirs: torch.Tensor, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """(N, n) increasing ray parameters t past the sphere, uniform in inverse radius (NeRF++).

        origins, dirs: (N, 3), w unit. With b = o . w, a ray's radius |o + t w| grows from
        r_0 = max(radius, its closest approach) on (the closest approach is sqrt(|o|^2 - b^2) ahead of
        the camera when b < 0, the camera itself otherwise); n stratified samples of s = 1/r over
        (0, 1/r_0) (one uniform draw per bin from ``generator``, bin centres without one), and
        t(r) = -b + sqrt(b^2 - |o|^2 + r^2).
        """
        b = (origins * dirs).sum(dim=1)
        o2 = (origins * origins).sum(dim=1)
        closest = torch.where(b < 0, (o2 - b * b).clamp_min(0.0), o2).sqrt()
        s0 = 1.0 / closest.clamp_min(self.radius)
        if generator is None:
            u = torch.full((len(origins), n), 0.5, dtype=origins.dtype, device=origins.device)
        else:
            u = torch.rand((len(origins), n), generator=generator, dtype=origins.dtype).to(origins.device)
        bins = torch.arange(n, dtype=origins.dtype, device=origins.device)
        s = s0[:, None] * (1.0 - (bins + u) / n)  # decreasing in (0, s0): increasing radius
        r2 = 1.0 / s.square()
        return -b[:, None] + (b[:, None].square() - o2[:, None] + r2).clamp_min(0.0).sqrt()


def median_colours(images: list[np.ndarray]) -> np.ndarray:
    """(V, 3) the median colour of each (H, W, 3) image: most of a photo around an object is backdrop."""
    return np.stack([np.median(image.reshape(-1, 3), axis=0) for image in images]).astype(np.float32)


def make_background(kind: str, colours: np.ndarray, grid_resolution: int = 64) -> nn.Module:
    """The background model ``kind`` (one of BACKGROUNDS) for photos whose median colours are
    ``colours`` (V, 3); ``grid_resolution``: the field's grid (cells per side)."""
    if kind == "colour":
        return PhotoColour(colours)
    mean = np.asarray(colours).mean(axis=0)
    if kind == "envmap":
        return EnvironmentMap(mean, len(colours))
    if kind == "field":
        return InvertedSphereField(mean, grid_resolution)
    raise ValueError(f"unknown background {kind!r}: one of {', '.join(BACKGROUNDS)}")
