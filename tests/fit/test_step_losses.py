"""get_loss_dict's mask-loss probes (a missing ray's most occupied sample, 'peak', or a random point, DVR's), and
get_outputs' one occupancy call per step equal to separate calls."""

import math

import pytest
import torch

from dvr_cli.errors import DvrError
from dvr_cli.fields import GridField
from dvr_cli.fields.normals import fd_normals, fd_points
from dvr_cli.fit import fit
from dvr_cli.model import DVRModel, RayBatch, losses
from dvr_cli.render import camera_rays, render_rays
from render_scenes import ring_cameras
from sphere_scene import tiny_config


def _grazing_batch(n: int = 64, gap: float = 0.6) -> RayBatch:
    """n in-mask rays along +z that pass the origin at distance ``gap`` (they miss a 0.5 sphere)."""
    angle = torch.linspace(0, 2 * math.pi, n + 1)[:-1]
    offset = torch.stack([angle.cos(), angle.sin(), torch.zeros(n)], dim=1) * gap
    origins = offset + torch.tensor([0.0, 0.0, -3.0])
    dirs = torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3).contiguous()
    random_points = origins + torch.rand(n, 1, generator=torch.Generator().manual_seed(0)) * 2 * dirs + 2 * dirs
    return RayBatch(
        origins,
        dirs,
        torch.zeros(n, 3),
        torch.ones(n, dtype=torch.bool),
        None,
        random_points,
        torch.zeros(n, dtype=torch.long),
        torch.zeros(n, 2),
    )


@pytest.mark.parametrize("probe", ["peak", "random"])
def test_missed_in_mask_rays_push_their_probe_inside(probe):
    torch.manual_seed(0)
    field = GridField([8, 16], features=2, hidden=16, init_radius=0.5, prior_sharpness=10.0)
    batch = _grazing_batch()
    cfg = tiny_config(mask_probe=probe, w_normal=0.0)
    model = DVRModel(cfg, field)
    out = model.get_outputs(batch, 1.0, torch.Generator(), 128)
    assert not out["hit"].any()
    terms = model.get_loss_dict(out, batch)
    # every ray's peak is its closest approach, |p| = 0.6: logit 10 (0.5 - 0.6) = -1, BCE = softplus(1)
    peak_bce = math.log1p(math.e)
    if probe == "peak":
        assert terms["occupancy"].item() == pytest.approx(peak_bce, rel=1e-3)
    else:  # random points lie further out, so the loss is larger
        assert terms["occupancy"].item() > peak_bce + 0.5
    assert terms["freespace"].item() == 0.0


def test_unknown_mask_probe_is_a_clear_error(tmp_path, sphere_scene):
    with pytest.raises(DvrError, match="mask_probe"):
        fit(sphere_scene, tiny_config(mask_probe="closest"), tmp_path / "run")


def _separate_terms(field, batch: RayBatch, cfg, n_samples: int, generator: torch.Generator) -> dict:
    """The step's loss terms with each occupancy query its own field call (as before they were batched)."""
    out = render_rays(field, batch.origins, batch.dirs, n_samples, cfg.rendering.tau, cfg.rendering.n_secant)
    hit, in_mask = out["hit"], batch.mask
    peak = batch.origins + out["t_peak"][:, None] * batch.dirs
    miss_probe = torch.where(out["t_peak"].isnan()[:, None], batch.random_points, peak)
    probe_logits = field.occupancy_logits(torch.where(hit[:, None], out["points"].detach(), miss_probe))
    surface = out["points"][hit].detach()
    both = torch.cat([surface, surface + cfg.losses.normal_jitter * torch.randn(surface.shape, generator=generator)])
    n = fd_normals(field.occupancy_logits(fd_points(both, cfg.losses.normal_fd_step)), cfg.losses.normal_fd_step)
    return {
        "rgb": losses.rgb_loss(out["rgb"], batch.rgb, hit & in_mask),
        "freespace": losses.freespace_loss(probe_logits, ~in_mask),
        "occupancy": losses.occupancy_loss(probe_logits, in_mask & ~hit),
        "normal": losses.normal_loss(*n.chunk(2), len(batch)),
    }


def _reads_of(loss: torch.Tensor, grid: torch.Tensor) -> int:
    """How many nodes of ``loss``'s graph take ``grid`` as an input: one per differentiable field call."""
    seen, stack, count = set(), [loss.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        inputs = [next_node for next_node, _ in node.next_functions]
        count += any(getattr(n, "variable", None) is grid for n in inputs)
        stack.extend(inputs)
    return count


def test_one_occupancy_call_per_step_gives_the_separate_calls_loss_and_gradients():
    torch.manual_seed(0)
    field = GridField(
        [4, 8],
        features=2,
        hidden=8,
        init_radius=0.5,
        grid_init_std=0.05,
        head_scale=1.0,
        sh_degree=1,
        hash_resolutions=[12],
        hash_table_log2=8,
    ).double()
    gen = torch.Generator().manual_seed(1)
    origins, dirs = (x.double() for x in camera_rays(ring_cameras(1, size=12, focal=12)[0]))
    n = origins.shape[0]
    batch = RayBatch(
        origins,
        dirs,
        torch.rand(n, 3, generator=gen, dtype=torch.float64),
        torch.rand(n, generator=gen) < 0.6,
        None,
        torch.rand(n, 3, generator=gen, dtype=torch.float64) - 0.5,
        torch.zeros(n, dtype=torch.long),
        torch.zeros(n, 2),
    )
    cfg = tiny_config(mask_probe="peak", w_normal=0.1, normal_fd_step=0.05)

    model = DVRModel(cfg, field)
    results = []
    for terms_of in (
        lambda g: model.get_loss_dict(model.get_outputs(batch, 1.0, g, 32), batch),
        lambda g: _separate_terms(field, batch, cfg, 32, g),
    ):
        field.zero_grad(set_to_none=True)
        terms = terms_of(torch.Generator().manual_seed(2))
        loss = model.total_loss(terms)
        reads = _reads_of(loss, field.grids[0])
        loss.backward()
        results.append((terms, reads, {name: p.grad.clone() for name, p in field.named_parameters()}))
    (merged, merged_reads, merged_grads), (separate, separate_reads, separate_grads) = results

    assert merged.keys() == separate.keys() and merged["rgb"] > 0 and merged["normal"] > 0
    assert merged["freespace"] > 0 and merged["occupancy"] > 0  # rays of every kind: hit, missed in and out of the mask
    for name in merged:
        assert merged[name].item() == pytest.approx(separate[name].item(), rel=1e-12), name
    for name, grad in separate_grads.items():
        assert grad.norm() > 0, name  # every parameter is shaped by the step
        rel = float((merged_grads[name] - grad).norm() / grad.norm())
        assert rel < 1e-10, f"{name}: relative gradient difference {rel:.1e}"
    # a grid is read once by the occupancy queries and once by the texture, instead of four times
    assert (merged_reads, separate_reads) == (2, 4)
