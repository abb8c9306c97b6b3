"""The nested FitConfig: flat aliases map onto its parts, each value is checked where it is declared,
and configs saved in every older form (flat before 2026-12-05, then nested with the field a string
switch) load through the one migration."""

from __future__ import annotations

import json

import pytest

from dvr_cli.config import FLAT_NAMES, PARTS, PRESETS, FitConfig, migrate
from dvr_cli.config.renamed import RENAMED
from dvr_cli.errors import DvrError
from dvr_cli.fields import GridField, GridFieldConfig, PaperField, PaperFieldConfig
from saved_configs import FLAT_SAVED, NESTED_SAVED, OLD_NAMES


def test_flat_names_map_onto_the_parts():
    cfg = FitConfig.from_preset("paper", iters=5, tau=0.4, w_normal=0.2, rays_per_step=64, holdout=2, seed=None)
    assert cfg.schedule.iters == 5 and cfg.rendering.tau == 0.4 and cfg.losses.w_normal == 0.2
    assert cfg.sampler.rays_per_step == 64 and cfg.holdout == 2 and cfg.seed == 0
    assert isinstance(cfg.field, PaperFieldConfig) and cfg.field.kind == "paper" and cfg.optimizer.lr == 1e-4
    assert cfg.rendering.renderer == "surface" and PRESETS["paper"].schedule.iters == 300000  # the preset is kept
    # 57 at first, shading_fd_step, background(_samples, _grid), kernel, sparse_adam, object_share; a paper
    # field's config lists the paper field's (and the shared ones)
    grid_only = {n for n in FLAT_NAMES if n.startswith(("grid_", "hash_", "mlp_", "shading_"))} | {"kernel"}
    assert set(cfg.flat()) == set(FLAT_NAMES) - grid_only and len(FLAT_NAMES) == 64 and len(grid_only) == 11
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
        (
            {"samples_schedule": [[0.1, 8]]},
            "config 'samples_schedule' must be a list of [fraction, samples] from fraction 0",
        ),
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
    assert nested["schedule"]["iters"] == 7 and nested["field"]["kind"] == "grid" and nested["holdout"] == 3
    # settings it predates take the values it ran with, the shading normals its loss's step
    assert nested["rendering"]["renderer"] == "surface" and nested["rendering"]["stop_at_hit"] is False
    assert nested["field"]["shading_hidden"] == 0 and nested["field"]["shading_fd_step"] == 0.004
    assert nested["rendering"]["background"] == "colour"  # without masks: one colour per photo
    (tmp_path / "config.json").write_text(json.dumps(FLAT_SAVED))
    loaded = FitConfig.load(tmp_path / "config.json")
    paper_only = {"paper_hidden", "paper_blocks"}  # a grid fit's config keeps the grid's settings alone
    assert loaded.flat() == {
        **{RENAMED.get(k, k): v for k, v in FLAT_SAVED.items() if k not in paper_only},
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
        "object_share": 0.0,
    }
    assert migrate(loaded.to_json()) == loaded.to_json()  # today's form is left as it is
    (tmp_path / "config.json").write_text(json.dumps({**FLAT_SAVED, "normal_fd_step": 0.0}))
    assert FitConfig.load(tmp_path / "config.json").field.shading_fd_step == 0.008  # the default where 0
    (tmp_path / "config.json").write_text(json.dumps({**FLAT_SAVED, "colour": 1}))
    with pytest.raises(DvrError, match=r"config.json.*unknown config keys \['colour'\]"):
        FitConfig.load(tmp_path / "config.json")


def test_a_nested_config_saved_with_the_field_switch_migrates_to_the_same_settings(tmp_path):
    (tmp_path / "config.json").write_text(NESTED_SAVED)
    loaded = FitConfig.load(tmp_path / "config.json")
    assert isinstance(loaded.field, GridFieldConfig) and loaded.field.resolutions == [16, 32, 64, 128]
    assert loaded.field.shading_hidden == 0 and loaded.field.kernel == "native" and loaded.optimizer.lazy
    assert loaded.optimizer.lr == 1e-4 and loaded.optimizer.lr_final_ratio == 0.5
    assert loaded.occ_grid.resolution == 64 and loaded.occ_grid.update_every == 200
    assert loaded.losses.mask_probe == "random" and loaded.sampler.sparse_per_step == 512
    assert loaded.rendering.tau == 0.4 and loaded.schedule.iters == 7 and loaded.losses.w_sparse == 0.5
    saved = {k: v for part in json.loads(NESTED_SAVED).values() if isinstance(part, dict) for k, v in part.items()}
    flat = {**{k: v for k, v in json.loads(NESTED_SAVED).items() if not isinstance(v, dict)}, **saved}
    kept = {RENAMED.get(k, k): v for k, v in flat.items() if k not in ("paper_hidden", "paper_blocks")}
    assert loaded.flat() == {**kept, "object_share": 0.0}  # a setting it predates: the value it ran with
    assert migrate(loaded.to_json()) == loaded.to_json()


def test_the_field_configs_build_their_fields():
    grid = GridFieldConfig(
        resolutions=[4, 8], hash_resolutions=[], mlp_hidden=8, shading_hidden=4, shading_fd_step=0.02
    ).setup()
    assert isinstance(grid, GridField) and grid.resolutions == [4, 8] and grid.shading_fd_step == 0.02
    paper = PaperFieldConfig(hidden=8, blocks=1).setup()
    assert isinstance(paper, PaperField) and len(paper.blocks) == 1 and paper.fc_p.out_features == 8


def test_a_new_field_kind_keeps_the_shared_settings_and_ignores_the_other_kinds():
    cfg = FitConfig.from_preset("fast", sh_degree=1, init_radius=0.3).replaced(field="paper", grid_resolutions=[8])
    assert isinstance(cfg.field, PaperFieldConfig) and (cfg.field.sh_degree, cfg.field.init_radius) == (1, 0.3)
    assert "grid_resolutions" not in cfg.flat() and cfg.flat()["paper_hidden"] == 512
    assert cfg.to_json()["field"]["kind"] == "paper"


def test_a_renamed_setting_is_accepted_by_its_old_name():
    cfg = FitConfig.from_preset("fast", **OLD_NAMES)
    assert cfg.flat() == {**FitConfig().flat(), **{RENAMED[k]: v for k, v in OLD_NAMES.items()}}
    assert set(OLD_NAMES) <= set(RENAMED) and not set(OLD_NAMES) & set(cfg.flat())
    old, new = next(iter(RENAMED.items()))
    with pytest.raises(DvrError, match=f"config gives {old} and its new name {new}: give one"):
        FitConfig.from_preset("fast", **{old: 8, new: 8})
