"""The background model of a fit without masks: saved with the run and loaded back, the per-photo
colour of runs saved before the setting, and the hook for a fit with masks and a background (the
colour is then compared outside the masks too)."""

from __future__ import annotations

import json

import pytest
import torch

from dvr_cli.fields import GridField
from dvr_cli.fields.background import EnvironmentMap, InvertedSphereField, PhotoColour
from dvr_cli.fit import fit
from dvr_cli.model import DVRModel, RayBatch
from dvr_cli.run import load_run
from dvr_cli.run.checkpoint import load_checkpoint
from sphere_scene import tiny_config

MODELS = {"field": InvertedSphereField, "envmap": EnvironmentMap, "colour": PhotoColour}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_the_background_is_saved_with_the_run_and_loaded_back(kind, sphere_scene, tmp_path):
    fit(sphere_scene.without_masks(), tiny_config(iters=3, background=kind, holdout=3), tmp_path / "run")
    run = load_run(tmp_path / "run", device="cpu")
    assert isinstance(run.background, MODELS[kind]) and not run.background.training
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["background"]
    assert saved.keys() == run.background.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in run.background.state_dict().items())
    assert load_run(tmp_path / "run", device="cpu").background is not None
    masked = tmp_path / "masked"
    fit(sphere_scene, tiny_config(iters=1, background=kind), masked)
    assert load_run(masked, device="cpu").background is None  # masked fits: white, as before


def test_a_run_saved_before_the_setting_loads_its_photo_colours(sphere_scene, tmp_path):
    fit(sphere_scene.without_masks(), tiny_config(iters=2, background="colour"), tmp_path / "run")
    config = tmp_path / "run" / "config.json"
    saved = json.loads(config.read_text())
    for key in ("background", "background_samples", "background_grid"):
        del saved["rendering"][key]
    config.write_text(json.dumps(saved))
    run = load_run(tmp_path / "run", device="cpu")
    assert run.cfg.rendering.background == "colour" and isinstance(run.background, PhotoColour)
    assert run.background.logits.shape == (len(run.train), 3)


def test_with_masks_and_a_background_the_colour_is_compared_outside_them():
    torch.manual_seed(0)
    field = GridField([8, 16], features=2, hidden=16, init_radius=0.5, prior_sharpness=10.0)
    n = 8
    origins = torch.tensor([[0.0, 0.9, -3.0]]).expand(n, 3).contiguous()  # every ray misses the 0.5 sphere
    dirs = torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3).contiguous()
    mask = torch.arange(n) < 2
    batch = RayBatch(
        origins,
        dirs,
        torch.full((n, 3), 0.5),
        mask,
        None,
        origins + 3 * dirs,
        torch.zeros(n, dtype=torch.long),
        torch.zeros(n, 2),
    )
    cfg = tiny_config(w_normal=0.0)
    without = DVRModel(cfg, field).get_outputs(batch, 1.0, torch.Generator(), 64)
    assert torch.equal(without["compared"], without["rendered"] & mask)
    model = DVRModel(cfg, field, background=PhotoColour(torch.full((1, 3), 0.25)))
    out = model.get_outputs(batch, 1.0, torch.Generator(), 64)
    assert out["compared"].all()
    # every ray shows the background: |0.25 - 0.5| in 3 channels
    assert model.get_loss_dict(out, batch)["rgb"].item() == pytest.approx(0.75, rel=1e-4)
