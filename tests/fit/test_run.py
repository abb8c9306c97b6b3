import os

import pytest
import torch

from dvr_cli import run as runs
from dvr_cli.errors import DvrError
from dvr_cli.fit.trainer import active_levels, fit
from dvr_cli.ownership import claim_folder
from dvr_cli.run.folder import update_latest_link
from sphere_scene import tiny_config


def test_holdout_split_keeps_every_kth_view_out():
    assert runs.holdout_split(7, 3) == ([0, 2, 3, 5, 6], [1, 4])
    assert runs.holdout_split(4, 0) == ([0, 1, 2, 3], [])


def test_coarse_to_fine_reaches_all_levels_at_forty_percent():
    levels = [active_levels(i / 100, 4) for i in (0, 13, 14, 27, 39, 40, 99)]
    assert levels == [1, 1, 2, 3, 3, 4, 4]


def test_latest_link_is_relative_and_replaced(tmp_path):
    for name in ("a", "b"):
        claim_folder(tmp_path / name, "run")
    update_latest_link(tmp_path / "a")
    update_latest_link(tmp_path / "b")
    assert os.readlink(tmp_path / "latest") == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "latest"]  # no temporary link left
    (tmp_path / "mine").mkdir()  # a user's link to their own folder is theirs: left alone
    (tmp_path / "latest").unlink()
    (tmp_path / "latest").symlink_to("mine")
    update_latest_link(tmp_path / "a")
    assert os.readlink(tmp_path / "latest") == "mine"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "latest").mkdir()  # a real folder named latest is left alone
    (tmp_path / "other" / "c").mkdir()
    update_latest_link(tmp_path / "other" / "c")
    assert (tmp_path / "other" / "latest").is_dir() and not (tmp_path / "other" / "latest").is_symlink()


def test_load_run_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DvrError, match="runs/latest"):
        runs.load_run(None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DvrError, match="no checkpoint"):
        runs.load_run(tmp_path / "empty")


def test_load_run_gives_the_fitted_field(tmp_path, monkeypatch, sphere_scene):
    monkeypatch.chdir(tmp_path)
    result = fit(sphere_scene, tiny_config(iters=2, holdout=3), tmp_path / "runs" / "r1")
    loaded = runs.load_run(None, device="cpu")
    assert loaded.run_dir == result.run_dir.resolve() and loaded.iteration == 2
    assert not loaded.field.training
    assert loaded.holdout == [1, 4] and loaded.train == [0, 2, 3, 5]
    assert loaded.normalization.scale == sphere_scene.normalization.scale
    p = torch.zeros(1, 3)
    assert loaded.field.occupancy_logits(p).item() > 0  # the sphere prior: the centre is inside
    assert loaded.occ_grid.occupied(p).item()
