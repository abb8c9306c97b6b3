"""The background past the cube: NeRF++'s inverted-sphere parametrisation, its samples in inverse
distance, the colour models' views of a held-out photo, and the compositing order (the cube in front)."""

from __future__ import annotations

import math

import numpy as np
import torch

from dvr_cli.fields.background import (
    RADIUS,
    EnvironmentMap,
    InvertedSphereField,
    PhotoColour,
    contract,
    equirect_uv,
    inverted_sphere,
)
from dvr_cli.render.background_rays import ray_background
from dvr_cli.render.volume import composite


def test_points_at_any_radius_map_into_the_unit_ball():
    g = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(50, 3, generator=g, dtype=torch.float64), dim=1)
    for r in (RADIUS, 2.0, 10.0, 1e6):
        inverted = inverted_sphere(r * dirs)
        assert torch.allclose(inverted[:, :3], dirs) and torch.allclose(
            inverted[:, 3], torch.full((50,), RADIUS / r, dtype=torch.float64)
        )
        q = contract(r * dirs).norm(dim=1)
        assert torch.allclose(
            q, torch.full((50,), 1.0 - 0.5 * RADIUS / r, dtype=torch.float64)
        )  # |q| = 1 - s / 2: in [1/2, 1)
    # continuous at the sphere: q = p / (2 R) there, the inside's own scaling
    p = RADIUS * dirs
    assert torch.allclose(contract(p), p / (2 * RADIUS))
    assert torch.allclose(contract(p * (1 + 1e-9)), contract(p), atol=1e-8)


def test_samples_lie_past_the_sphere_in_inverse_radius():
    field = InvertedSphereField(np.full(3, 0.5), resolution=8)
    origins = torch.tensor([[0.0, 0.0, -3.0], [0.0, 2.5, -3.0], [0.0, 0.0, 0.5]])
    dirs = torch.nn.functional.normalize(torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), dim=1)
    t = field.ray_samples(origins, dirs, 4)
    assert (t.diff(dim=1) > 0).all()
    radii = (origins[:, None] + t[..., None] * dirs[:, None]).norm(dim=2)
    # through the centre: s = 1/r at the bin centres (7, 5, 3, 1) / 8 of (0, 1/R)
    assert torch.allclose(1.0 / radii[0], torch.tensor([7.0, 5.0, 3.0, 1.0]) / (8 * RADIUS))
    assert t[0, 0] > 3.0 + RADIUS * 8 / 7 - 1e-4  # past the sphere's far side, not in front
    # passing the sphere at 2.5: from its closest approach (t = 3) on
    assert torch.allclose(1.0 / radii[1], torch.tensor([7.0, 5.0, 3.0, 1.0]) / (8 * 2.5))
    assert (t[1] > 3.0).all() and (radii[2] > RADIUS).all()


def test_the_cube_is_composited_in_front_of_the_background():
    field = InvertedSphereField(np.array([0.2, 0.4, 0.8]), resolution=8)
    origins, dirs = torch.tensor([[0.0, 0.0, -3.0]] * 2), torch.tensor([[0.0, 0.0, 1.0]] * 2)
    behind = ray_background(field, origins, dirs, None, 16)
    assert torch.allclose(behind, torch.tensor([0.2, 0.4, 0.8]).expand(2, 3), atol=1e-4)  # every ray ends on it
    red = torch.tensor([1.0, 0.0, 0.0]).expand(2, 1, 3)
    out = composite(torch.tensor([[1.0], [0.25]]), red, behind)
    assert torch.allclose(out["rgb"][0], torch.tensor([1.0, 0.0, 0.0]))  # an opaque cube hides it
    assert torch.allclose(out["rgb"][1], 0.25 * red[1, 0] + 0.75 * behind[1])


def test_a_held_out_view_takes_the_mean_photo_and_exposure():
    colours = PhotoColour(np.array([[0.2, 0.2, 0.2], [0.6, 0.6, 0.6]]))
    dirs = torch.tensor([[1.0, 0.0, 0.0]])
    assert torch.allclose(colours(dirs, torch.tensor([1])), torch.full((1, 3), 0.6))
    assert torch.allclose(colours(dirs, None), torch.full((1, 3), 0.4))
    env = EnvironmentMap(np.array([0.5, 0.5, 0.5]), n_views=2, height=4)
    with torch.no_grad():
        env.gain.copy_(torch.tensor([[1.0] * 3, [0.5] * 3]))
        env.bias.copy_(torch.tensor([[0.1] * 3, [0.0] * 3]))
    assert torch.allclose(env(dirs, torch.tensor([0])), torch.full((1, 3), 0.6))
    assert torch.allclose(env(dirs, None), torch.full((1, 3), 0.5 * 0.75 + 0.05))


def test_equirect_coordinates_of_the_axes():
    uv = equirect_uv(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    assert torch.allclose(uv, torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.0, -1.0]]), atol=1e-6)
    assert math.isclose(float(equirect_uv(torch.tensor([[-1.0, 1e-9, 0.0]]))[0, 0]), 1.0, abs_tol=1e-6)
