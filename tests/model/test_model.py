"""DVRModel: its checkpoint entries load into a new model that renders the same image (the background
with it), a part that does not match is a one-line error, and its schedule refreshes the grid, then
sets the levels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dvr_cli.errors import DvrError
from dvr_cli.model import DVRModel
from render_scenes import ring_cameras
from sphere_scene import tiny_config

CAMERAS = ring_cameras(3, size=16, focal=16)  # looking at the unit cube from 3 units away
GREY = np.full((3, 3), 0.3, dtype=np.float32)  # the photos' median colours


def test_a_saved_model_loads_and_renders_the_same_with_its_background(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_config(background="envmap")
    model = DVRModel.setup(cfg, CAMERAS, [None] * 3, GREY)
    state = model.checkpoint_state()
    assert set(state) == {"field", "occ_grid", "background"}
    loaded = DVRModel.from_checkpoint(cfg, state, 3, tmp_path / "latest.pt")
    a, b = model.render_camera(CAMERAS[0], 32), loaded.render_camera(CAMERAS[0], 32)
    assert 0 < a["mask"].mean() < 1  # the initial sphere, and misses around it
    np.testing.assert_array_equal(a["rgb"], b["rgb"])
    np.testing.assert_allclose(a["rgb"][~a["mask"]], 0.3, atol=0.02)  # past the cube: the background, not white
    white = model.render_camera(CAMERAS[0], 32, background=(1.0, 1.0, 1.0))
    assert (white["rgb"][~white["mask"]] == 1.0).all()
    wrong = dict(state, background={"logits": torch.zeros(3, 3)})  # a per-photo colour, not an environment map
    with pytest.raises(DvrError, match="background does not match") as error:
        DVRModel.from_checkpoint(cfg, wrong, 3, tmp_path / "latest.pt")
    assert error.value.path == tmp_path / "latest.pt"


def test_the_schedule_refreshes_the_grid_then_sets_the_levels():
    torch.manual_seed(0)
    model = DVRModel.setup(tiny_config(occ_grid_every=2), CAMERAS, [None] * 3, GREY)
    refresh, levels = model.schedule_hooks()
    assert model.occ_grid.fraction == 1.0  # without masks: the whole cube
    refresh(0, 0.0)
    levels(0, 0.0)
    assert model.occ_grid.fraction == 1.0 and model.field.active_levels == 1  # no refresh at the start
    refresh(2, 0.5)
    levels(2, 0.5)
    # the initial sphere of radius 0.5, with the refresh's logit margin and 2 cells more (of 16): 0.66
    assert 0.3 < model.occ_grid.fraction < 0.8
    assert model.field.active_levels == model.field.n_levels == 2
