"""The unified objective: volume steps (UNISURF) while the plan says so, with the interval shrinking on
the plan, then DVR's surface steps; configs saved before it load as the surface fit they ran."""

from __future__ import annotations

import json

import pytest
import torch

from dvr_cli.config import FitConfig
from dvr_cli.fields import GridField
from dvr_cli.fields.background import PhotoColour
from dvr_cli.model import DVRModel, RayBatch
from dvr_cli.render.march import find_surface
from dvr_cli.render.volume import interval_halfwidth, volume_samples
from sphere_scene import tiny_config


def _head_on_batch(n: int = 16) -> RayBatch:
    """n rays along +z from z = -3, within 0.2 of the axis: they meet a centred 0.5 sphere near z = -0.5."""
    offset = torch.linspace(-0.2, 0.2, n)
    origins = torch.stack([offset, torch.zeros(n), torch.full((n,), -3.0)], dim=1)
    dirs = torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3).contiguous()
    return RayBatch(
        origins,
        dirs,
        torch.full((n, 3), 0.5),
        None,
        None,
        origins + 3 * dirs,
        torch.zeros(n, dtype=torch.long),
        torch.zeros(n, 2),
    )


def _field() -> GridField:
    torch.manual_seed(0)
    return GridField([8, 16], features=2, hidden=16, init_radius=0.5, prior_sharpness=10.0)


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.8])
def test_the_interval_shrinks_on_the_plan(fraction):
    cfg = tiny_config(interval_max=1.0, interval_min=0.05, interval_decay=5.0, free_samples=4, interval_samples=8)
    field, batch = _field(), _head_on_batch()
    hits = find_surface(field.occupancy_logits, batch.origins, batch.dirs, 64)
    assert hits.hit.all()
    render = cfg.rendering
    delta = interval_halfwidth(fraction, render.interval_max, render.interval_min, render.interval_decay)
    n_free, n_interval, generator = render.free_samples, render.interval_samples, torch.Generator().manual_seed(0)
    t, points, live = volume_samples(batch.origins, batch.dirs, hits, delta, n_free, n_interval, None, generator)
    delta = max(torch.exp(torch.tensor(-5.0 * fraction)).item(), 0.05)
    near = ((t - hits.depth[:, None]).abs() <= delta + 1e-6).sum(dim=1)
    assert t.shape == (16, 12) and live.all() and points.shape == (16 * 12, 3)
    assert (near >= 8).all()  # every interval sample, whatever the free ones do
    if fraction == 0.8:  # 0.05 of a 2-long chord: the free samples fall there about once a ray in 10
        assert near.float().mean() < 8.5


def test_volume_steps_until_the_plan_switches_to_the_surface():
    cfg = tiny_config(volume_until=0.5)
    field, batch = _field(), _head_on_batch()
    model = DVRModel(cfg, field, background=PhotoColour(torch.ones(1, 3)))
    volume = model.get_outputs(batch, 0.4, torch.Generator(), 64)
    surface = model.get_outputs(batch, 0.6, torch.Generator(), 64)
    assert "acc" in volume and "acc" not in surface
    # the sphere is opaque head-on: the volume's depth is about the surface's
    assert torch.allclose(volume["depth"], surface["depth"], atol=0.08)
    assert (volume["acc"] > 0.95).all()
    terms = model.get_loss_dict(volume, batch)
    assert set(terms) == {"rgb", "normal"}  # no masks: no mask terms
    terms["rgb"].backward()
    assert field.grids[0].grad.abs().sum() > 0


def test_a_config_saved_before_the_unified_renderer_loads_as_the_surface_fit(tmp_path):
    saved = FitConfig.from_preset("fast").flat()  # as saved before 2026-12-05
    for name in (
        "renderer",
        "volume_until",
        "free_samples",
        "interval_samples",
        "interval_max",
        "interval_min",
        "interval_decay",
    ):
        saved.pop(name)
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert FitConfig.load(tmp_path / "config.json").rendering.renderer == "surface"
    assert FitConfig.from_preset("fast").rendering.renderer == "unified"
    assert FitConfig.from_preset("paper").rendering.renderer == "surface"
