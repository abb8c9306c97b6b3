import signal

import pytest
import torch

from dvr_cli.errors import DvrError
from dvr_cli.fit import trainer
from dvr_cli.run import load_run
from runs import signal_while_writing
from sphere_scene import tiny_config

ITERS = 10  # occ grid update at 4 and 8, marching samples change at 3, coarse-to-fine level change at 2


def _params(run_dir):
    return load_run(run_dir, device="cpu").field.state_dict()


def test_ctrl_c_twice_during_a_checkpoint_write_then_resume_equals_an_uninterrupted_fit(
    tmp_path, sphere_scene, monkeypatch
):
    """The first Ctrl-C asks the loop to stop; the second, still inside the write, aborts it: the
    half-written file is removed, and the loop's last checkpoint holds iteration 5."""
    cfg = tiny_config(iters=ITERS, checkpoint_every_s=0)  # a checkpoint after every iteration
    straight = trainer.fit(sphere_scene, cfg, tmp_path / "straight")
    assert straight.iterations == ITERS and not straight.interrupted

    write = signal_while_writing(monkeypatch, signal.SIGINT, 5, times=2)  # the write after iteration 5
    first = trainer.fit(sphere_scene, cfg, tmp_path / "resumed")
    monkeypatch.undo()
    assert 0 < write["written"] < write["size"]
    assert first.interrupted and first.iterations == 5
    assert sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()) == ["latest.pt"]

    second = trainer.resume(tmp_path / "resumed", sphere_scene)
    assert second.iterations == ITERS
    a, b = _params(tmp_path / "straight"), _params(tmp_path / "resumed")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert second.last == straight.last


def test_resume_with_another_config_leaves_the_run_untouched(tmp_path, sphere_scene):
    run = tmp_path / "run"
    trainer.fit(sphere_scene, tiny_config(iters=2), run)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    with pytest.raises(DvrError, match="config differs"):
        trainer.resume(run, sphere_scene, lr=0.5)
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before
    (run / "checkpoints" / "latest.pt").write_bytes(b"garbage")
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    with pytest.raises(DvrError, match="corrupt"):
        trainer.resume(run, sphere_scene)
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_fresh_fit_refuses_a_folder_that_holds_a_fit(tmp_path, sphere_scene):
    trainer.fit(sphere_scene, tiny_config(iters=1), tmp_path / "run")
    with pytest.raises(DvrError, match="--resume"):
        trainer.fit(sphere_scene, tiny_config(iters=1), tmp_path / "run")


def test_resume_from_python_reloads_the_runs_config_and_scene(tmp_path, tiny_example, monkeypatch):
    """``resume()`` alone continues runs/latest as `dvr fit --resume` does: its saved config,
    its recorded scene; the result equals an uninterrupted fit's."""
    from dvr_cli.scene import load_scene

    scene, cfg = load_scene(tiny_example), tiny_config(iters=6)
    trainer.fit(scene, cfg, tmp_path / "straight")
    monkeypatch.chdir(tmp_path)
    stopped = trainer.fit(scene, cfg, tmp_path / "runs" / "r", hooks=[lambda job: job.iteration == 3])
    assert stopped.iterations == 3
    resumed = trainer.resume()
    assert resumed.run_dir == (tmp_path / "runs" / "r").resolve() and resumed.iterations == 6
    a, b = _params(tmp_path / "straight"), _params(tmp_path / "runs" / "r")
    assert all(torch.equal(a[key], b[key]) for key in a)
    with pytest.raises(DvrError, match="nothing to resume"):
        trainer.resume(tmp_path)
