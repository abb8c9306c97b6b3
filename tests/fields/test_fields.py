"""Field backbones: sizes, shapes, sphere initialisation, coarse-to-fine masking."""

import pytest
import torch

from dvr_cli.errors import DvrError
from dvr_cli.fields import GridField, GridFieldConfig, PaperField, PaperFieldConfig, tau_logit
from dvr_cli.mesh.color import field_colors

CORNER = torch.tensor([[1.0, 1.0, 1.0], [-1.0, 1.0, -1.0]])
ORIGIN = torch.zeros(1, 3)
CAMERAS = torch.tensor([[0.0, 0.0, 3.0], [3.0, 0.0, 0.0]])


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_paper_field_is_dvr_sized_and_starts_as_sphere():
    field = PaperFieldConfig().setup()
    assert isinstance(field, PaperField)
    assert 2_550_000 < n_params(field) < 2_700_000  # 3->512, 5 x ResnetBlockFC(512), heads 512->1+3
    logits, rgb = field(torch.cat([ORIGIN, CORNER]))
    assert logits.shape == (3,) and rgb.shape == (3, 3)
    assert logits[0] > 4.0 and (logits[1:] < -10.0).all()  # 10 (0.5 - |p|) up to a small perturbation
    surface = torch.nn.functional.normalize(torch.randn(64, 3), dim=1) * 0.5
    assert field.occupancy_logits(surface).abs().max() < 0.2
    assert ((rgb > 0) & (rgb < 1)).all()


def test_grid_field_shapes_init_and_levels():
    cfg = GridFieldConfig(
        resolutions=[4, 8, 16],
        features=3,
        mlp_hidden=32,
        init_radius=0.4,
        hash_resolutions=[32],
        hash_features=2,
        hash_table_log2=12,
    )
    field = cfg.setup()
    assert isinstance(field, GridField) and field.n_levels == 4
    assert [tuple(g.shape) for g in field.grids] == [(1, 3, r, r, r) for r in (4, 8, 16)]
    assert [tuple(t.shape) for t in field.tables] == [(4096, 2)]
    assert max(float(g.detach().abs().max()) for g in [*field.grids, *field.tables]) < 1e-3  # small init
    points = torch.rand(100, 3) * 2 - 1
    assert field.encode(points).shape == (3 + 3 * 3 + 2, 100)
    logits = field.occupancy_logits(torch.cat([ORIGIN, CORNER]))
    assert logits[0] > 3.0 and (logits[1:] < -10.0).all()
    assert field.occupancy_logits(torch.tensor([[0.4, 0.0, 0.0]])).abs() < 0.1

    field.set_active_levels(1)
    encoding = field.encode(points)
    assert encoding[6:].eq(0).all() and encoding[3:6].ne(0).all()
    field.occupancy_logits(points).sum().backward()
    assert field.grids[0].grad.abs().sum() > 0
    assert all(g.grad is None for g in [*field.grids[1:], *field.tables])  # masked levels are not even sampled
    with pytest.raises(ValueError):
        field.set_active_levels(5)


def test_grid_trilinear_convention():
    # Put a linear ramp in x into one level: its sampled feature must equal x at any point.
    field = GridField(resolutions=[5], features=1, hidden=4)
    ramp = torch.linspace(-1, 1, 5)
    with torch.no_grad():
        field.grids[0].copy_(ramp.view(1, 1, 1, 1, 5).expand(1, 1, 5, 5, 5))  # V[0, 0, z, y, x] = x
    points = torch.rand(50, 3) * 2 - 1
    assert torch.allclose(field.encode(points)[3], points[:, 0], atol=1e-6)


def test_a_field_config_checks_its_values():
    with pytest.raises(DvrError, match="config 'kernel' must be one of native, torch, got 'cuda'"):
        GridFieldConfig(kernel="cuda")
    with pytest.raises(DvrError, match="config 'blocks' must be an integer >= 1, got 0"):
        PaperFieldConfig(blocks=0)


def test_tau_logit():
    assert tau_logit(0.5) == 0.0
    assert abs(tau_logit(0.9) - 2.1972245773) < 1e-9
    with pytest.raises(DvrError):
        tau_logit(1.0)


SMALL_GRID = dict(resolutions=[8, 16], features=2, mlp_hidden=16, hash_resolutions=[], init_radius=0.5)


def _sphere_points(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n points on the field's initial sphere (radius 0.5) and n view directions that see them."""
    g = torch.Generator().manual_seed(seed)
    normal = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=1)
    view = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=1)
    view = torch.where(((view * normal).sum(1, keepdim=True) > 0), -view, view)  # looking at the outside
    return 0.5 * normal, view


def test_shading_starts_as_none_and_reads_the_surface_normal():
    torch.manual_seed(0)
    field = GridFieldConfig(**SMALL_GRID, shading_hidden=8).setup()
    points, dirs = _sphere_points(200, 0)
    shaded = field.texture(points, dirs)
    field.shading = None
    assert torch.equal(shaded, field.texture(points, dirs))  # last layer at 0: no shading at step 0
    assert (field.shading_normals(points) - points / 0.5).abs().max() < 1e-3  # the sphere's outward normals


def test_the_shading_term_learns_a_lamp_at_the_camera():
    """Colour 0.15 + 0.7 max(0, -n.w) (a lamp at the camera) on the initial sphere, fitted from 2,000
    (point, view) pairs with no SH terms: the normal-conditioned shading alone predicts new points
    and views within 0.02 on average; without it the colour cannot follow the view (> 0.1 off).
    A mesh of the field takes the colour seen head-on (0.85), or the cos-weighted mean of the
    colours that given cameras see."""
    points, dirs = _sphere_points(2000, 1)
    test_points, test_dirs = _sphere_points(500, 2)

    def headlight(p, w):
        return (0.15 + 0.7 * (-(p / 0.5) * w).sum(1).clamp_min(0))[:, None].expand(-1, 3)

    errors = {}
    for hidden in (16, 0):
        torch.manual_seed(0)
        field = GridFieldConfig(**SMALL_GRID, shading_hidden=hidden, sh_degree=0).setup()
        optimizer = torch.optim.Adam(field.parameters(), lr=1e-2)
        for _ in range(300):
            optimizer.zero_grad()
            (field.texture(points, dirs) - headlight(points, dirs)).abs().mean().backward()
            optimizer.step()
        with torch.no_grad():
            error = field.texture(test_points, test_dirs) - headlight(test_points, test_dirs)
        errors[hidden] = float(error.abs().mean())
        if hidden:  # what a mesh of this field is coloured with: head-on, and averaged over two cameras
            head_on = field_colors(field, test_points.numpy())
            averaged = field_colors(field, test_points.numpy(), CAMERAS.numpy())
    assert errors[16] < 0.02, errors
    assert errors[0] > 0.1, errors
    assert abs(head_on - 0.85).mean() < 0.03
    # Averaged: sum_i cos_i (0.15 + 0.7 cos_i) / sum_i cos_i over the cameras facing the point
    # (cos_i > 0.1), head-on where none does.
    n = test_points / 0.5
    toward = torch.nn.functional.normalize(CAMERAS[:, None] - test_points[None], dim=2)  # (2, N, 3)
    cos = (toward * n[None]).sum(2)
    w = torch.where(cos > 0.1, cos, 0.0)
    expected = torch.where(w.sum(0) > 0, (w * (0.15 + 0.7 * cos)).sum(0) / w.sum(0).clamp_min(1e-9), 0.85)
    assert abs(averaged[:, 0] - expected.numpy()).mean() < 0.03
    assert abs(averaged[:, 0] - 0.85).mean() > 0.1  # not the head-on colour
