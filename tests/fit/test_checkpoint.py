import json

import numpy as np
import pytest
import torch

from dvr_cli.errors import DvrError
from dvr_cli.ownership import claim_folder
from dvr_cli.run import checkpoint as ckpt
from sphere_scene import tiny_config


def _state(cfg, value=1.0):
    return {
        "iteration": 3,
        "elapsed": 1.5,
        "field": {"w": torch.full((2,), value)},
        "optimizer": {},
        "rng": ckpt.capture_rng(torch.Generator().manual_seed(0)),
        "occ_grid": {"res": 2, "bits": torch.ones(2, 2, 2, dtype=torch.bool)},
        "config": json.dumps(cfg.to_json()),
    }


def test_round_trip(tmp_path):
    cfg = tiny_config()
    path = tmp_path / "checkpoints" / "latest.pt"
    ckpt.save_checkpoint(path, _state(cfg, 2.5))
    state = ckpt.load_checkpoint(path, cfg)
    assert state["iteration"] == 3 and state["field"]["w"].tolist() == [2.5, 2.5]
    assert [p.name for p in path.parent.iterdir()] == ["latest.pt"]  # no temp file left


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    cfg = tiny_config()
    run = claim_folder(tmp_path / "run", "run")  # a run folder: dvr replaces only the checkpoint it wrote
    path = run / "latest.pt"
    ckpt.save_checkpoint(path, _state(cfg, 1.0))

    def broken_save(obj, f):
        open(f, "wb").write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(DvrError, match=r"cannot write the checkpoint \(disk full\); the previous checkpoint is kept"):
        ckpt.save_checkpoint(path, _state(cfg, 9.0))
    monkeypatch.undo()
    assert ckpt.load_checkpoint(path, cfg)["field"]["w"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in run.iterdir()) == [".dvr-owned", "latest.pt"]


def test_corrupt_or_incomplete_checkpoint_is_a_user_error(tmp_path):
    path = tmp_path / "latest.pt"
    path.write_bytes(b"\x00not a torch file")
    with pytest.raises(DvrError, match="corrupt checkpoint"):
        ckpt.load_checkpoint(path)
    torch.save({"iteration": 1}, path)
    with pytest.raises(DvrError, match="missing entries"):
        ckpt.load_checkpoint(path)
    with pytest.raises(DvrError, match="no checkpoint"):
        ckpt.load_checkpoint(tmp_path / "absent.pt")


def test_config_mismatch_names_the_fields(tmp_path):
    path = tmp_path / "latest.pt"
    ckpt.save_checkpoint(path, _state(tiny_config()))
    with pytest.raises(DvrError, match=r"\['lr', 'seed'\]"):
        ckpt.load_checkpoint(path, tiny_config(lr=0.5, seed=4))
    ckpt.load_checkpoint(path, tiny_config(minutes=3.0, device="cuda"))  # how long / where: free to change


def test_a_checkpoint_older_than_a_config_field_still_loads(tmp_path):
    # saved before w_sparse existed: it ran without sparse points, so it matches w_sparse 0, not 0.5
    cfg = tiny_config()
    saved = {k: v for k, v in cfg.to_json().items() if k not in ("w_sparse", "sparse_per_step")}
    path = tmp_path / "latest.pt"
    ckpt.save_checkpoint(path, {**_state(cfg), "config": json.dumps(saved)})
    ckpt.load_checkpoint(path, cfg)
    with pytest.raises(DvrError, match=r"\['w_sparse'\]"):
        ckpt.load_checkpoint(path, tiny_config(w_sparse=0.5))


def test_rng_states_round_trip():
    gen = torch.Generator().manual_seed(5)
    torch.manual_seed(1)
    np.random.seed(2)
    state = ckpt.capture_rng(gen)
    expected = (torch.rand(3, generator=gen), torch.rand(3), np.random.rand(3))
    ckpt.restore_rng(state, gen)
    assert torch.equal(torch.rand(3, generator=gen), expected[0])
    assert torch.equal(torch.rand(3), expected[1])
    assert np.array_equal(np.random.rand(3), expected[2])
