"""SIGTERM (what Ray, SLURM and Kubernetes send) stops a fit as Ctrl-C does: a checkpoint, then exit,
and the run resumes, also when the signal arrives while a checkpoint is being written."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dvr_cli.config import FitConfig
from dvr_cli.fit import trainer
from dvr_cli.run import load_run
from dvr_cli.run.checkpoint import load_checkpoint
from runs import signal_while_writing
from sphere_scene import tiny_config

ITERS = 8


def test_sigterm_during_a_checkpoint_write_then_resume_equals_an_uninterrupted_fit(tmp_path, sphere_scene, monkeypatch):
    cfg = tiny_config(iters=ITERS, checkpoint_every_s=0)  # a checkpoint after every iteration
    trainer.fit(sphere_scene, cfg, tmp_path / "straight")
    write = signal_while_writing(monkeypatch, signal.SIGTERM, 3)  # the one after iteration 3
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or Ray's handler when an earlier test started Ray here
    first = trainer.fit(sphere_scene, cfg, tmp_path / "resumed")
    monkeypatch.undo()
    assert 0 < write["written"] < write["size"]  # the signal came with half of the file written
    assert first.interrupted and first.iterations == 3  # the write went on; the loop stopped after it
    assert signal.getsignal(signal.SIGTERM) is before  # the fit put back what was there
    assert sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()) == ["latest.pt"]
    second = trainer.resume(tmp_path / "resumed", sphere_scene)
    assert second.iterations == ITERS
    a = load_run(tmp_path / "straight", device="cpu").field.state_dict()
    b = load_run(tmp_path / "resumed", device="cpu").field.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow  # about 30 s here: a dvr process that fits 25 iterations before the signal
def test_a_dvr_fit_sent_sigterm_leaves_a_resumable_checkpoint(tiny_example, tmp_path):
    run = tmp_path / "run"
    dvr = Path(sys.executable).with_name("dvr")
    fit = subprocess.Popen(
        [str(dvr), "fit", str(tiny_example), "--out", str(run), "--iters", "100000", "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 120
        while not (run / "metrics.jsonl").is_file():  # 25 iterations done
            assert fit.poll() is None and time.monotonic() < end
            time.sleep(0.2)
        fit.send_signal(signal.SIGTERM)
        out, err = fit.communicate(timeout=60)
    finally:
        fit.kill()
    assert fit.returncode == 0, err
    assert "(interrupted)" in out and "Traceback" not in err
    state = load_checkpoint(run / "checkpoints" / "latest.pt", FitConfig.load(run / "config.json"))
    assert state["iteration"] >= 25 and not (run / ".lock").exists()
