"""The nested FitConfig: flat names map onto its parts, each value is checked where it is declared,
and configs saved in the flat form (before 2026-12-05) load through the one migration."""

from __future__ import annotations

import json

import pytest

from dvr_cli.config import FLAT_NAMES, PARTS, FieldConfig, FitConfig, migrate
from dvr_cli.errors import DvrError
from dvr_cli.fields import GridField, PaperField

#: config.json as dvr saved it before 2026-12-05 (flat; `paper` preset, iters=7, holdout=3, w_sparse=0.5,
#: normal_fd_step=0.004, field=grid), without the settings added later (shading_hidden, renderer, ...)
FLAT_SAVED = {
    "preset": "paper",
    "field": "grid",
    "grid_resolutions": [16, 32, 64, 128],
    "grid_features": 4,
    "hash_resolutions": [256],
    "hash_features": 2,
    "hash_table_log2": 20,
    "mlp_hidden": 64,
    "mlp_hidden_layers": 1,
    "grid_init_std": 0.0001,
    "paper_hidden": 512,
    "paper_blocks": 5,
    "init_radius": 0.5,
    "prior_sharpness": 10.0,
    "head_scale": 0.01,
    "sh_degree": 0,
    "iters": 7,
    "minutes": None,
    "lr": 0.0001,
    "lr_final_ratio": 0.5,
    "rays_per_step": 1024,
    "views_per_step": 1,
    "mask_ray_fraction": 0.5,
    "edge_ray_fraction": 0.0,
    "mask_probe": "random",
    "volume_until": 0.85,
    "free_samples": 4,
    "interval_samples": 8,
    "interval_max": 1.0,
    "interval_min": 0.05,
    "interval_decay": 5.0,
    "tau": 0.5,
    "steps_schedule": [[0, 16], [0.16666666666666666, 32], [0.3333333333333333, 64], [0.6666666666666666, 128]],
    "n_secant": 8,
    "render_steps": 256,
    "w_rgb": 1.0,
    "w_freespace": 1.0,
    "w_occupancy": 1.0,
    "w_normal": 0.05,
    "w_depth": 0.0,
    "normal_eps": 0.01,
    "w_sparse": 0.5,
    "sparse_per_step": 512,
    "normal_fd_step": 0.004,
    "occ_grid_res": 64,
    "occ_grid_every": 200,
    "downscale": 1.0,
    "max_size": None,
    "holdout": 3,
    "seed": 0,
    "device": "auto",
    "checkpoint_every_s": 120.0,
    "preview_every_s": 180.0,
}


def test_flat_names_map_onto_the_parts():
    cfg = FitConfig.from_preset("paper", iters=5, tau=0.4, w_normal=0.2, rays_per_step=64, holdout=2, seed=None)
    assert cfg.schedule.iters == 5 and cfg.rendering.tau == 0.4 and cfg.losses.w_normal == 0.2
    assert cfg.sampler.rays_per_step == 64 and cfg.holdout == 2 and cfg.seed == 0
    assert cfg.network.field == "paper" and cfg.schedule.lr == 1e-4 and cfg.rendering.renderer == "surface"
    # 57 at first, shading_fd_step, background(_samples, _grid), kernel, sparse_adam
    assert set(cfg.flat()) == set(FLAT_NAMES) and len(FLAT_NAMES) == 63
    assert cfg.replaced(iters=9, device="cpu").flat() == {**cfg.flat(), "iters": 9, "device": "cpu"}
    assert FitConfig.from_json(json.loads(json.dumps(cfg.to_json()))) == cfg
    assert sorted(cfg.to_json()) == sorted(
        [
            *PARTS,
            "preset",
            "downscale",
            "max_size",
            "holdout",
            "seed",
            "device",
            "checkpoint_every_s",
            "preview_every_s",
        ]
    )


@pytest.mark.parametrize(
    "values, message",
    [
        ({"tau": 1.0}, "config 'tau' must be a number in (0, 1), got 1.0"),
        ({"interval_min": 2.0}, "config 'interval_min' must be a number in (0, interval_max], got 2.0"),
        ({"steps_schedule": [[0.1, 8]]}, "config 'steps_schedule' must be a list of [fraction, steps] from fraction 0"),
        ({"field": "mlp"}, "config 'field' must be one of grid, paper, got 'mlp'"),
        ({"checkpoint_every_s": 500}, "config 'checkpoint_every_s' must be a number of seconds in [0, 120]"),
        ({"stop_at_hit": 1}, "config 'stop_at_hit' must be true or false, got 1"),
        ({"iters": 0}, "config 'iters' must be an integer >= 1 (or null: plan in time), got 0"),
        ({"colour": 1}, "unknown config keys ['colour']"),
    ],
)
def test_each_value_is_checked_where_it_is_declared(values, message):
    with pytest.raises(DvrError, match="preset 'fast'") as caught:
        FitConfig.from_preset("fast", **values)
    assert message in str(caught.value)


def test_a_flat_config_saved_before_the_nesting_migrates_to_the_same_settings(tmp_path):
    nested = migrate(FLAT_SAVED)
    assert nested["schedule"]["iters"] == 7 and nested["network"]["field"] == "grid" and nested["holdout"] == 3
    # settings it predates take the values it ran with, the shading normals its loss's step
    assert nested["rendering"]["renderer"] == "surface" and nested["rendering"]["stop_at_hit"] is False
    assert nested["network"]["shading_hidden"] == 0 and nested["network"]["shading_fd_step"] == 0.004
    assert nested["rendering"]["background"] == "colour"  # without masks: one colour per photo
    (tmp_path / "config.json").write_text(json.dumps(FLAT_SAVED))
    loaded = FitConfig.load(tmp_path / "config.json")
    assert loaded.flat() == {
        **FLAT_SAVED,
        "shading_hidden": 0,
        "renderer": "surface",
        "stop_at_hit": False,
        "compile": False,
        "shading_fd_step": 0.004,
        "background": "colour",
        "background_samples": 16,
        "background_grid": 64,
        "kernel": "torch",
        "sparse_adam": False,
    }
    assert migrate(loaded.to_json()) == loaded.to_json()  # today's form is left as it is
    (tmp_path / "config.json").write_text(json.dumps({**FLAT_SAVED, "normal_fd_step": 0.0}))
    assert FitConfig.load(tmp_path / "config.json").network.shading_fd_step == 0.008  # the default where 0
    (tmp_path / "config.json").write_text(json.dumps({**FLAT_SAVED, "colour": 1}))
    with pytest.raises(DvrError, match=r"config.json.*unknown config keys \['colour'\]"):
        FitConfig.load(tmp_path / "config.json")


def test_the_field_config_builds_the_field():
    grid = FieldConfig(
        grid_resolutions=[4, 8], hash_resolutions=[], mlp_hidden=8, shading_hidden=4, shading_fd_step=0.02
    ).setup()
    assert isinstance(grid, GridField) and grid.resolutions == [4, 8] and grid.shading_fd_step == 0.02
    paper = FieldConfig(field="paper", paper_hidden=8, paper_blocks=1).setup()
    assert isinstance(paper, PaperField)
