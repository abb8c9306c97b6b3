import os

import pytest
import torch

from dvr_cli import run as runs
from dvr_cli.errors import DvrError
from dvr_cli.fit.trainer import fit
from dvr_cli.model.dvr_model import active_levels
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
    runs_dir = tmp_path / "runs"  # latest is made in a folder named runs only
    runs_dir.mkdir()
    for name in ("a", "b"):
        claim_folder(runs_dir / name, "run")
    update_latest_link(runs_dir / "a")
    update_latest_link(runs_dir / "b")
    assert os.readlink(runs_dir / "latest") == "b"
    assert sorted(p.name for p in runs_dir.iterdir()) == ["a", "b", "latest"]  # no temporary link left
    (runs_dir / "mine").mkdir()  # a user's link to their own folder is theirs: left alone
    (runs_dir / "latest").unlink()
    (runs_dir / "latest").symlink_to("mine")
    update_latest_link(runs_dir / "a")
    assert os.readlink(runs_dir / "latest") == "mine"
    other = tmp_path / "other" / "runs"
    (other / "latest").mkdir(parents=True)  # a real folder named latest is left alone
    (other / "c").mkdir()
    update_latest_link(other / "c")
    assert (other / "latest").is_dir() and not (other / "latest").is_symlink()


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
