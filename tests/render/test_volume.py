"""UNISURF's volume renderer of the occupancy: compositing against a hand-computed ray, its gradient
against finite differences, and the sampling interval against the plan."""

from __future__ import annotations

import math

import pytest
import torch

from dvr_cli.render.volume import composite, expected_depth, interval_halfwidth, ray_samples


def test_three_sample_ray_matches_hand_computation():
    alphas = torch.tensor([[0.2, 0.5, 0.9]])
    colors = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    out = composite(alphas, colors, background=torch.tensor([[1.0, 1.0, 1.0]]))
    # w = 0.2, 0.8 * 0.5 = 0.4, 0.8 * 0.5 * 0.9 = 0.36; background share 0.8 * 0.5 * 0.1 = 0.04
    assert torch.allclose(out["weights"], torch.tensor([[0.2, 0.4, 0.36]]))
    assert torch.allclose(out["acc"], torch.tensor([0.96]))
    assert torch.allclose(out["rgb"], torch.tensor([[0.24, 0.44, 0.40]]))
    t = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.allclose(expected_depth(out["weights"], t), torch.tensor([(0.2 + 0.8 + 1.08) / 0.96]))


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(0)
    alphas = torch.rand(4, 5, generator=g, dtype=torch.float64).requires_grad_(True)
    colors = torch.rand(4, 5, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    background = torch.rand(4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, c, b: composite(a, c, b)["rgb"], (alphas, colors, background))
    assert torch.autograd.gradcheck(lambda a: composite(a, colors.detach())["acc"], (alphas,))


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="colors"):
        composite(torch.zeros(2, 3), torch.zeros(2, 4, 3))


def test_interval_shrinks_with_the_plan():
    widths = [interval_halfwidth(f, 1.0, 0.05, 5.0) for f in (0.0, 0.1, 0.3, 0.6, 1.0)]
    assert widths[0] == 1.0
    assert widths[1] == pytest.approx(math.exp(-0.5))
    assert widths[2] == pytest.approx(math.exp(-1.5))
    assert widths[3] == pytest.approx(0.05) and widths[4] == 0.05  # exp(-3) < 0.05: the floor


def test_samples_cover_the_ray_and_the_interval():
    t_near, t_far = torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0])
    depth, hit = torch.tensor([2.0, 0.0]), torch.tensor([True, False])
    t = ray_samples(t_near, t_far, depth, hit, 0.1, 8, 16, torch.Generator().manual_seed(0))
    assert t.shape == (2, 24)
    assert (t.diff(dim=1) >= 0).all() and (t >= 1.0).all() and (t <= 3.0).all()
    near_surface = ((t[0] - 2.0).abs() <= 0.1).sum()
    assert near_surface >= 16  # every interval sample (and perhaps a free one)
    assert ((t[1] - 2.0).abs() <= 0.1).sum() <= 3  # no surface: spread over the whole ray
    # stratified: one free sample per bin of [1, 3]
    free = t[1][torch.arange(24)]  # no interval on a miss: 24 samples, 8 + 16 bins overlaid
    assert (torch.histc(free, bins=8, min=1.0, max=3.0) >= 1).all()
