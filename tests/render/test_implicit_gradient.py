"""The implicit depth gradient equals central finite differences of the marched depth, for every parameter."""

import pytest
import torch

from dvr_cli.fields import GridField, PaperField
from dvr_cli.render import find_surface, surface_depth
from dvr_cli.render.implicit import surface_points

N_STEPS, N_SECANT = 32, 40  # many secant steps: the marched depth is exact to float64 rounding


def _rays():
    """Six rays from different sides aimed near the origin, plus one that misses the cube."""
    gen = torch.Generator().manual_seed(1)
    eyes = 3.0 * torch.tensor(
        [[0, 0, -1], [0, 0, 1], [1, 0, 0], [-1, 0, 0], [0, 1, 0.2], [0.3, -1, 0]], dtype=torch.float64
    )
    targets = 0.1 * torch.randn(6, 3, generator=gen, dtype=torch.float64)
    dirs = torch.nn.functional.normalize(targets - eyes, dim=1)
    eyes = torch.cat([eyes, torch.tensor([[3.0, 3.0, 3.0]], dtype=torch.float64)])
    dirs = torch.cat([dirs, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)])
    return eyes, dirs


def _randomised(field: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The field in float64 with all parameters O(0.1) so every one of them shapes the surface."""
    gen = torch.Generator().manual_seed(seed)
    field = field.double()
    with torch.no_grad():
        for p in field.parameters():
            p.copy_(0.15 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return field


def _depth(field, origins, dirs, hits):
    """The differentiable depth, f at the surface points evaluated here."""
    return surface_depth(field, origins, dirs, hits, field.occupancy_logits(surface_points(origins, dirs, hits)))


def _marched_depth(field, origins, dirs):
    return find_surface(field.occupancy_logits, origins, dirs, N_STEPS, n_secant=N_SECANT).depth


FIELDS = {
    "grid": lambda: GridField(resolutions=[3, 5], features=2, hidden=6),
    "paper": lambda: PaperField(hidden=8, blocks=2),
}


@pytest.mark.parametrize("name", FIELDS)
def test_implicit_gradient_matches_finite_differences(name):
    field = _randomised(FIELDS[name](), seed=3)
    origins, dirs = _rays()
    weights = torch.linspace(1.0, 2.0, origins.shape[0], dtype=torch.float64)  # L = sum_i c_i d_i

    hits = find_surface(field.occupancy_logits, origins, dirs, N_STEPS, n_secant=N_SECANT)
    assert hits.hit[:6].all() and not hits.hit[6]
    depth = _depth(field, origins, dirs, hits)
    (weights * depth).sum().backward()

    analytic, numeric = [], []
    h = 1e-6
    with torch.no_grad():
        for p in field.parameters():
            flat = p.view(-1)
            for i in range(flat.numel()):
                keep = float(flat[i])
                flat[i] = keep + h
                up = (weights * _marched_depth(field, origins, dirs)).sum()
                flat[i] = keep - h
                down = (weights * _marched_depth(field, origins, dirs)).sum()
                flat[i] = keep
                numeric.append(float(up - down) / (2 * h))
            analytic.append(torch.zeros_like(flat) if p.grad is None else p.grad.reshape(-1))  # texture head: None
    analytic, numeric = torch.cat(analytic), torch.tensor(numeric, dtype=torch.float64)
    assert numeric.abs().max() > 1e-3  # the check is not vacuous
    rel = (analytic - numeric).norm() / numeric.norm()
    assert rel < 1e-3, f"relative error {rel:.2e}"
    worst = (analytic - numeric).abs().max() / numeric.abs().max()
    assert worst < 1e-3, f"worst entry error {worst:.2e} of the largest gradient"


def test_gradient_to_origins_and_dirs_and_zero_for_misses():
    field = _randomised(GridField(resolutions=[3, 5], features=2, hidden=6), seed=4)
    for p in field.parameters():
        p.requires_grad_(False)
    origins, dirs = _rays()
    origins.requires_grad_(True)
    dirs.requires_grad_(True)
    hits = find_surface(field.occupancy_logits, origins, dirs, N_STEPS, n_secant=N_SECANT)
    _depth(field, origins, dirs, hits).sum().backward()
    assert origins.grad[6].eq(0).all() and dirs.grad[6].eq(0).all()  # the miss gets no gradient

    h = 1e-6
    with torch.no_grad():
        for tensor, grad in ((origins, origins.grad), (dirs, dirs.grad)):
            for ray in range(6):
                for axis in range(3):
                    keep = float(tensor[ray, axis])
                    tensor[ray, axis] = keep + h
                    up = _marched_depth(field, origins, dirs)[ray]
                    tensor[ray, axis] = keep - h
                    down = _marched_depth(field, origins, dirs)[ray]
                    tensor[ray, axis] = keep
                    fd = float(up - down) / (2 * h)
                    assert abs(fd - float(grad[ray, axis])) < 1e-5 * max(1.0, abs(fd))
