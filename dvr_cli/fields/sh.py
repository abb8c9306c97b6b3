"""Real spherical harmonics of degree 1 and 2: a view-dependent colour basis.

A colour logit c(p, w) = a_0(p) + sum_k a_k(p) Y_k(w) over the (degree + 1)^2 - 1 basis functions
of degree 1..``degree``. Each of them integrates to 0 over the sphere, so a_0(p) alone is the
colour logit averaged over all viewing directions: what a mesh's texture keeps (the same split
into a constant and directional terms as in Plenoxels / 3D Gaussian splatting).
"""

from __future__ import annotations

import torch

_C1 = 0.4886025119029199  # sqrt(3 / (4 pi))
_C2 = (1.0925484305920792, 0.31539156525252005, 0.5462742152960396)


def sh_directional_count(degree: int) -> int:
    """Number of basis functions of degree 1..``degree``: (degree + 1)^2 - 1."""
    if degree not in (0, 1, 2):
        raise ValueError(f"spherical-harmonics degree must be 0, 1 or 2, got {degree}")
    return (degree + 1) ** 2 - 1


def sh_directional(dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """dirs: (N, 3) unit vectors -> (N, (degree + 1)^2 - 1) real SH values Y_k(w) of degree 1..``degree``.

    Orthonormal on the sphere (integral of Y_j Y_k = delta_jk) and each of zero mean.
    """
    n = sh_directional_count(degree)
    x, y, z = dirs.unbind(-1)
    values = []
    if degree >= 1:
        values += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree >= 2:
        values += [_C2[0] * x * y, -_C2[0] * y * z, _C2[1] * (3 * z * z - 1), -_C2[0] * x * z, _C2[2] * (x * x - y * y)]
    return torch.stack(values[:n], dim=-1) if n else dirs.new_zeros(dirs.shape[0], 0)


def sh_rgb(raw: torch.Tensor, dirs: torch.Tensor | None, degree: int) -> torch.Tensor:
    """Colour from a texture head's output: sigmoid(c + sum_k a_k Y_k(w)).

    raw: (N, 3 + 3K) = [c (3), a_1..a_K (3 each, channel-major: raw[:, 3:].view(N, 3, K))], K =
    sh_directional_count(degree); (N, 3) = c alone is enough when ``dirs`` is None.
    dirs: (N, 3) unit view directions, or None for the direction-averaged colour sigmoid(c).
    Returns (N, 3) in [0, 1].
    """
    n_sh = sh_directional_count(degree)
    color = raw[:, :3]
    if dirs is not None and n_sh:
        coeffs = raw[:, 3 : 3 + 3 * n_sh].reshape(-1, 3, n_sh)
        color = color + (coeffs * sh_directional(dirs, degree)[:, None, :]).sum(-1)
    return torch.sigmoid(color)
