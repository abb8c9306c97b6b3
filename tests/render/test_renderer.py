"""render_rays / render_image / normals on a field initialised as a sphere."""

import torch

from dvr_cli.fields import GridField
from dvr_cli.fields.normals import fd_normals, fd_points
from dvr_cli.render import camera_rays, normals, render_image, render_rays
from render_scenes import ring_cameras, sphere_depth


def _sphere_field():
    """The grid field at init: logit ~ 10 (0.5 - |p|), i.e. a sphere of radius 0.5 up to ~1e-4."""
    torch.manual_seed(0)
    return GridField(resolutions=[8, 16], features=2, hidden=16, init_radius=0.5)


def test_normals_of_sphere_point_outwards():
    field = _sphere_field()
    p = torch.nn.functional.normalize(torch.randn(100, 3), dim=1) * 0.5
    with torch.no_grad():  # normals enable grad locally
        n = normals(field, p)
    assert not n.requires_grad
    assert (n * torch.nn.functional.normalize(p, dim=1)).sum(1).min() > 0.999


def test_render_rays_depth_rgb_and_gradients():
    field = _sphere_field()
    origins, dirs = camera_rays(ring_cameras(1, size=24)[0])
    out = render_rays(field, origins, dirs, n_samples=32)
    expected = sphere_depth(origins, dirs, (0, 0, 0), 0.5)
    hit = out["hit"]
    clear = ~sphere_depth(origins, dirs, (0, 0, 0), 0.49).isnan()  # rays not grazing the silhouette
    assert hit.sum() > 50 and hit[clear].all() and not hit[expected.isnan()].any()
    assert (out["depth"][hit] - expected[hit]).abs().max() < 5e-3  # field = sphere up to its small init perturbation
    assert torch.allclose(out["points"], origins + out["depth"][:, None] * dirs)
    assert out["rgb"][~hit].eq(0).all() and (out["rgb"][hit] - 0.5).abs().max() < 0.01
    out["rgb"].sum().backward()
    # Colour reaches the grids twice: directly through t(p) and through p's depth (implicit gradient).
    assert field.grids[0].grad.abs().sum() > 0 and field.head.weight.grad[1:].abs().sum() > 0


def test_render_image_matches_analytic_sphere():
    field = _sphere_field()
    cam = ring_cameras(2, size=20)[1]
    calls = []
    image = render_image(
        field,
        cam,
        n_samples=32,
        chunk=150,
        background=(0.0, 1.0, 0.0),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (400, 400) and len(calls) == 3
    origins, dirs = camera_rays(cam)
    expected = sphere_depth(origins, dirs, (0, 0, 0), 0.5).reshape(20, 20)
    mask = image["mask"]
    clear = ~sphere_depth(origins, dirs, (0, 0, 0), 0.49).reshape(20, 20).isnan().numpy()
    assert mask.shape == (20, 20) and mask[clear].all() and not mask[expected.isnan().numpy()].any()
    assert abs(image["depth"][mask] - expected.numpy()[mask]).max() < 5e-3
    assert (image["depth"][~mask] == 0).all()
    assert (image["rgb"][~mask] == [0.0, 1.0, 0.0]).all()
    points = (origins + torch.from_numpy(image["depth"]).reshape(-1, 1) * dirs).reshape(20, 20, 3).numpy()
    radial = points[mask] / 0.5
    assert (image["normal"][mask] * radial).sum(-1).min() > 0.999


def test_normals_with_create_graph_reach_parameters():
    field = _sphere_field()
    p = torch.nn.functional.normalize(torch.randn(50, 3), dim=1) * 0.5
    n = normals(field, p, create_graph=True)
    assert n.requires_grad
    n[:, 0].sum().backward()  # a normal loss must be able to shape the surface
    assert field.grids[1].grad.abs().sum() > 0 and field.mlp[0].weight.grad.abs().sum() > 0


def test_finite_difference_normals_match_analytic_and_reach_parameters():
    torch.manual_seed(1)
    field = GridField(resolutions=[8, 16], features=2, hidden=16, init_radius=0.5, grid_init_std=0.05, head_scale=1.0)
    p = torch.nn.functional.normalize(torch.randn(200, 3), dim=1) * 0.5
    exact = normals(field, p)
    fd = fd_normals(field.occupancy_logits(fd_points(p, 1e-3)), 1e-3)
    # the perturbed grid makes the field non-spherical, so this is a real comparison (not just radial)
    assert (exact * torch.nn.functional.normalize(p, dim=1)).sum(1).min() < 0.9995
    error = (fd - exact).norm(dim=1)
    # O(h^2) where the field is smooth; up to O(h / cell) where a difference straddles a trilinear kink
    assert error.median() < 1e-4 and error.max() < 1e-2
    fd[:, 0].sum().backward()  # first-order autograd reaches the grids and the MLP
    assert field.grids[1].grad.abs().sum() > 0 and field.mlp[0].weight.grad.abs().sum() > 0
