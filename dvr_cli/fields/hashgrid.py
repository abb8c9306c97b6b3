"""Hashed trilinear feature lookup: one fine grid level stored in a fixed-size table.

Instant-NGP's spatial hash (Mueller et al. 2022): the corner c = (i, j, k) of a res^3 lattice
over [-1, 1]^3 (corners on the cube's faces, as with grid_sample's align_corners=True) reads row
    h(c) = (i * 1  XOR  j * 2654435761  XOR  k * 805459861)  mod T
of a (T, C) table, so a level finer than a dense grid could afford (256^3 x C floats) costs T x C.
Collisions are left for the optimiser to sort out, as in Instant-NGP; the surface touches a small
share of the corners, so few of them matter.
"""

from __future__ import annotations

import torch

PRIMES = (1, 2654435761, 805459861)
_CORNERS = [[(n >> 2) & 1, (n >> 1) & 1, n & 1] for n in range(8)]


def hash_corners(corners: torch.Tensor, table_size: int) -> torch.Tensor:
    """corners: (..., 3) long lattice indices -> (...) long table rows h(c) (table_size a power of 2)."""
    if table_size & (table_size - 1):
        raise ValueError(f"hash table size must be a power of two, got {table_size}")
    h = corners * torch.tensor(PRIMES, dtype=torch.long, device=corners.device)
    return (h[..., 0] ^ h[..., 1] ^ h[..., 2]) & (table_size - 1)


def hash_encode(points: torch.Tensor, table: torch.Tensor, res: int) -> torch.Tensor:
    """Trilinear interpolation of the hashed lattice features at ``points``.

    points: (N, 3) in [-1, 1]^3 (clamped to it); table: (T, C); res: lattice corners per axis.
    Returns (C, N), feature-major like GridField.encode's dense levels. Differentiable w.r.t.
    ``table`` (and ``points``, through the trilinear weights).
    """
    x = ((points.clamp(-1.0, 1.0) + 1.0) * (0.5 * (res - 1))).clamp(max=res - 1 - 1e-4)
    base = x.floor()
    frac = x - base
    offsets = torch.tensor(_CORNERS, dtype=torch.long, device=points.device)  # (8, 3)
    rows = hash_corners(base.long()[:, None, :] + offsets, table.shape[0])  # (N, 8)
    weights = torch.where(offsets.bool(), frac[:, None, :], 1.0 - frac[:, None, :]).prod(-1)  # (N, 8)
    return (table[rows] * weights[..., None]).sum(1).t()
