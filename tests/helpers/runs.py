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


def signal_while_writing(monkeypatch, signum: int, n: int, times: int = 1) -> dict:
    """Send this process ``signum`` ``times`` times in the middle of the fit's ``n``-th checkpoint
    write: half of the file is on disk (in its temporary name) when the signals arrive, the rest
    is written after them unless one raises. Returns {"written": bytes on disk when the signals
    were sent, "size": the whole file's}; ``monkeypatch.undo()`` restores ``torch.save``."""
    import io
    import os

    import torch

    original, seen = torch.save, {"calls": 0}

    def save_with_signal(state, path, *args, **kwargs):
        seen["calls"] += 1
        if seen["calls"] != n:
            return original(state, path, *args, **kwargs)
        buffer = io.BytesIO()
        original(state, buffer, *args, **kwargs)
        data = buffer.getvalue()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            seen.update(written=os.path.getsize(path), size=len(data))
            for _ in range(times):
                os.kill(os.getpid(), signum)  # its handler runs before os.kill returns
            f.write(data[len(data) // 2 :])

    monkeypatch.setattr(torch, "save", save_with_signal)
    return seen
