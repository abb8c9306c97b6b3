"""Small fitted runs for the tests, made through the library (not the CLI)."""

from __future__ import annotations

from pathlib import Path

from dvr_cli.config import FitConfig
from dvr_cli.evaluate.report import evaluate_run
from dvr_cli.fit import fit
from dvr_cli.run import load_run
from dvr_cli.scene import load_scene


def fitted_run(scene_dir: Path, run: Path, holdout: int, iters: int = 4) -> Path:
    """``run``: a CPU fit of the scene folder through the library, then its held-out views scored
    into eval.json, as `dvr fit --iters N --holdout K` does."""
    fit(load_scene(scene_dir), FitConfig.from_preset("fast", iters=iters, holdout=holdout, device="cpu"), run)
    evaluate_run(load_run(run, device="cpu"))
    return run


def signal_at_sample(monkeypatch, signum: int, n: int) -> None:
    """Send this process ``signum`` while the fit draws its ``n``-th batch of rays (the loop
    finishes that iteration, saves and returns); ``monkeypatch.undo()`` restores the sampler."""
    import os

    from dvr_cli.fit.sampler import RaySampler

    original, calls = RaySampler.sample, {"n": 0}

    def sample_then_signal(self):
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signum)
        return original(self)

    monkeypatch.setattr(RaySampler, "sample", sample_then_signal)
