"""step_losses' mask-loss probes: a missing ray's most occupied sample ('peak') or a random point (DVR)."""

import math

import pytest
import torch

from sphere_scene import tiny_config
from dvr_cli.errors import DvrError
from dvr_cli.fields import GridField
from dvr_cli.fit.sampler import RayBatch
from dvr_cli.fit import fit
from dvr_cli.fit.model import step_losses
from dvr_cli.render.renderer import render_rays


def _grazing_batch(n: int = 64, gap: float = 0.6) -> RayBatch:
    """n in-mask rays along +z that pass the origin at distance ``gap`` (they miss a 0.5 sphere)."""
    angle = torch.linspace(0, 2 * math.pi, n + 1)[:-1]
    offset = torch.stack([angle.cos(), angle.sin(), torch.zeros(n)], dim=1) * gap
    origins = offset + torch.tensor([0.0, 0.0, -3.0])
    dirs = torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3).contiguous()
    random_points = origins + torch.rand(n, 1, generator=torch.Generator().manual_seed(0)) * 2 * dirs + 2 * dirs
    return RayBatch(origins, dirs, torch.zeros(n, 3), torch.ones(n, dtype=torch.bool), None, random_points,
                    torch.zeros(n, dtype=torch.long), torch.zeros(n, 2))


@pytest.mark.parametrize("probe", ["peak", "random"])
def test_missed_in_mask_rays_push_their_probe_inside(probe):
    torch.manual_seed(0)
    field = GridField([8, 16], features=2, hidden=16, init_radius=0.5, prior_sharpness=10.0)
    batch = _grazing_batch()
    cfg = tiny_config(mask_probe=probe, w_normal=0.0)
    out = render_rays(field, batch.origins, batch.dirs, n_steps=128)
    assert not out["hit"].any()
    terms = step_losses(field, batch, out, cfg, torch.Generator())
    # every ray's peak is its closest approach, |p| = 0.6: logit 10 (0.5 - 0.6) = -1, BCE = softplus(1)
    peak_bce = math.log1p(math.e)
    if probe == "peak":
        assert terms["occupancy"].item() == pytest.approx(peak_bce, rel=1e-3)
    else:  # random points lie further out, so the loss is larger
        assert terms["occupancy"].item() > peak_bce + 0.5
    assert terms["freespace"].item() == 0.0


def test_unknown_mask_probe_is_a_clear_error(tmp_path, sphere_scene):
    with pytest.raises(DvrError, match="mask_probe"):
        fit(sphere_scene, tiny_config(mask_probe="closest"), tmp_path / "run", progress=False)
