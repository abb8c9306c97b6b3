"""Analytic scenes for renderer tests: sphere occupancies, cameras around the origin.

A plain module (not conftest.py) so tests import it by a name no other test folder uses.
"""

from __future__ import annotations

import numpy as np
import torch

from dvr_cli.scene.camera import Camera, look_at


def sphere_logit_fn(center=(0.0, 0.0, 0.0), radius=0.5, sharpness=10.0):
    """logit(p) = k (r - |p - c|): inside the sphere logit > 0 (tau = 0.5 surface at |p - c| = r)."""

    def logit_fn(points: torch.Tensor) -> torch.Tensor:
        c = torch.as_tensor(center, dtype=points.dtype, device=points.device)
        return sharpness * (radius - (points - c).norm(dim=-1))

    return logit_fn


def sphere_depth(origins: torch.Tensor, dirs: torch.Tensor, center, radius: float):
    """(N,) first intersection t of rays o + t w (unit w) with a sphere, nan where they miss."""
    c = torch.as_tensor(center, dtype=origins.dtype)
    oc = origins - c
    b = (dirs * oc).sum(-1)
    disc = b * b - ((oc * oc).sum(-1) - radius**2)
    t = -b - disc.clamp_min(0).sqrt()
    return torch.where(disc > 0, t, torch.full_like(t, float("nan")))


def ring_cameras(n: int = 12, distance: float = 3.0, size: int = 48, focal: float = 60.0, seed: int = 0):
    """``n`` cameras spread over a sphere of radius ``distance`` (alternating elevations), looking at the origin."""
    rng = np.random.default_rng(seed)
    cams = []
    for i in range(n):
        azimuth = 2 * np.pi * i / n + rng.uniform(-0.1, 0.1)
        elevation = (0.5 if i % 2 else -0.3) + rng.uniform(-0.1, 0.1)
        eye = distance * np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        R, t = look_at(eye, np.zeros(3))
        K = np.array([[focal, 0, (size - 1) / 2], [0, focal, (size - 1) / 2], [0, 0, 1.0]])
        cams.append(Camera(K, R, t, size, size, name=f"{i:03d}.png"))
    return cams
