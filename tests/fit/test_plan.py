"""A fit planned in time: it ends on time with a finished schedule, and a longer budget fits better."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from dvr_cli.fit import fit
from dvr_cli.run import load_run
from sphere_scene import tiny_config

pytestmark = pytest.mark.timing  # time-planned fits: their iterations follow the machine's load


def _train_error(run_dir, scene) -> float:
    """Mean absolute colour error of the fitted field over the scene's photos (all pixels)."""
    run = load_run(run_dir, device="cpu")
    return float(np.mean([np.abs(run.render(v.camera)["rgb"] - v.image).mean() for v in scene.views]))


def test_a_time_planned_fit_ends_on_time_with_its_schedule_done(tmp_path, sphere_scene):
    budget_s = 20.0
    fit(sphere_scene, tiny_config(iters=1), tmp_path / "warm-up")  # imports (torch._dynamo: s)
    start = time.monotonic()
    result = fit(sphere_scene, tiny_config(iters=None, minutes=budget_s / 60), tmp_path / "run")
    wall = time.monotonic() - start
    assert wall == pytest.approx(budget_s, rel=0.05)
    assert result.iterations > 5
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["iter"] == result.iterations
    assert records[-1]["time"] == pytest.approx(budget_s, rel=0.03)  # the fit's own clock, set-up included
    last, cfg = records[-1], tiny_config()
    assert last["fraction"] > 0.95  # the last step started with the plan nearly done: its lr nearly decayed
    assert last["lr"] == pytest.approx(cfg.optimizer.learning_rate(last["fraction"]), rel=1e-4)  # fraction: 5 digits
    assert [r["fraction"] for r in records] == sorted(r["fraction"] for r in records)


def test_a_longer_budget_fits_better(tmp_path, sphere_scene):
    errors = {}
    for seconds in (2.0, 10.0):
        run = tmp_path / f"run{seconds:g}"
        fit(sphere_scene, tiny_config(iters=None, minutes=seconds / 60), run)
        errors[seconds] = _train_error(run, sphere_scene)
    assert errors[10.0] < 0.9 * errors[2.0], errors
