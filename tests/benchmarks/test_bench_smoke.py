"""Tiny runs of the benchmark scripts: they finish, print their table and write valid JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_fit_smoke(make_example, tmp_path):
    scene = make_example(tmp_path / "scene", views=6, size=(32, 32), test_views=2, colmap_points=20)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_fit.py"),
            "--scene",
            str(scene),
            "--out",
            str(out),
            "--budget",
            "4",
            "--paper-budget",
            "6",
            "--eval-every",
            "2",
            "--paper-eval-every",
            "2",
            "--mesh-resolution",
            "32",
            "--points",
            "500",
            "--eval-samples",
            "16",
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "bench_fit" in proc.stdout
    result = json.loads((out / "bench_fit.json").read_text())
    assert set(result["presets"]) == {"fast", "paper"}
    for preset in result["presets"].values():
        assert preset["iterations"] > 0 and preset["rays_per_s"] > 0 and preset["peak_rss_mb"] > 0
        assert preset["curve"] and all(p["fit_s"] > 0 for p in preset["curve"])
    assert result["machine"]["cores"] >= 1
    assert (out / "bench_fit.png").is_file()


@pytest.mark.slow
def test_bench_renderers_smoke(make_example, tmp_path):
    scene = make_example(tmp_path / "scene", views=6, size=(32, 32), test_views=2, colmap_points=20)
    out = tmp_path / "rows.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_renderers.py"),
            "--scene",
            str(scene),
            "--iters",
            "3",
            "--no-masks",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["renderer"] for r in rows] == ["unified", "surface"]
    assert all(r["s_per_step"] > 0 and r["masks"] is False and 0 <= r["iou"] <= 1 for r in rows)


@pytest.mark.slow
def test_bench_fit_compare_smoke(make_example, tmp_path):
    scene = make_example(tmp_path / "scene", views=6, size=(32, 32), test_views=2, colmap_points=20)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_fit.py"),
            "--compare",
            "stop_at_hit=false,true",
            "--compare-scene",
            str(tmp_path / "absent"),
            "--scene",
            str(scene),
            "--compare-steps",
            "6",
            "--compare-memory-steps",
            "2",
            "--out",
            str(out),
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "bench_fit_compare.json").read_text())
    before, after = result["variants"]
    assert result["key"] == "stop_at_hit" and (before["value"], after["value"]) == (False, True)
    assert result["scene"] == str(scene) and result["steps"] == 6
    # the same fit, fewer marching evaluations; both timed and measured
    assert after["march_evals_per_step"] < before["march_evals_per_step"]
    assert all(v["steps_per_min"] > 0 and v["peak_rss_mb"] > 0 for v in (before, after))
    assert result["ratio_steps_per_min"] > 0 and "ratio_steps_per_min" in proc.stdout
