"""Spherical-harmonics colour basis: orthonormal, zero-mean, and the mean colour without directions."""

import math

import pytest
import torch

from dvr_cli.fields import GridField
from dvr_cli.fields.sh import sh_directional, sh_directional_count, sh_rgb


def _sphere_directions(n: int = 20000) -> torch.Tensor:
    """(n, 3) near-uniform unit vectors (Fibonacci lattice): sphere averages to ~1e-4."""
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    phi = math.pi * (1 + 5**0.5) * i
    r = (1 - z * z).sqrt()
    return torch.stack([r * phi.cos(), r * phi.sin(), z], dim=1)


@pytest.mark.parametrize("degree,count", [(0, 0), (1, 3), (2, 8)])
def test_basis_is_orthonormal_and_zero_mean_on_the_sphere(degree, count):
    assert sh_directional_count(degree) == count
    y = sh_directional(_sphere_directions(), degree)
    assert y.shape == (20000, count)
    gram = 4 * math.pi * (y.t() @ y) / y.shape[0]  # integral of Y_j Y_k over the sphere
    assert torch.allclose(gram, torch.eye(count, dtype=gram.dtype), atol=1e-3)
    assert (y.mean(0).abs() < 1e-3).all()


def test_degree_above_two_is_refused():
    with pytest.raises(ValueError, match="degree"):
        sh_directional_count(3)


def test_rgb_without_directions_is_the_direction_averaged_logit():
    torch.manual_seed(0)
    raw = torch.randn(5, 3 + 3 * 8, dtype=torch.float64)
    dirs = _sphere_directions(4000)
    seen = torch.stack([sh_rgb(raw[i : i + 1].expand(len(dirs), -1), dirs, 2) for i in range(5)])  # (5, D, 3)
    mean_logit = torch.logit(seen).mean(1)
    assert torch.allclose(torch.sigmoid(mean_logit), sh_rgb(raw, None, 2), atol=1e-3)
    assert (seen.amax(1) - seen.amin(1)).min() > 0.05  # and the colour really varies with direction


def test_grid_field_colour_depends_on_view_direction_only_with_sh():
    torch.manual_seed(0)
    p = torch.rand(64, 3) - 0.5
    w = torch.nn.functional.normalize(torch.randn(64, 3), dim=1)
    for degree in (0, 2):
        field = GridField([8, 16], features=2, hidden=16, head_scale=1.0, sh_degree=degree)
        with torch.no_grad():
            front, back, mean = field.texture(p, w), field.texture(p, -w), field.texture(p)
        if degree == 0:
            assert torch.equal(front, back) and torch.equal(front, mean)
        else:
            assert (front - back).abs().max() > 1e-2
            assert torch.allclose(field(p)[1], mean)  # forward's colour is the direction average
