"""Scaling out on one machine: `dvr batch` scenes per hour with 1 and 2 workers, and the rays per
second of one scene fitted by 1 and by 2 processes (`dvr fit --nproc 2`).

Batch: ``--scenes`` copies of the example scene (every 8th view held out, scored against the
ground-truth mesh), ``--iters`` iterations each, run by `dvr batch`'s library on a Ray started
for the purpose: once as 1 worker with every core (``cpus_per_scene`` = cores), once as one
worker per core (``cpus_per_scene`` = 1). Scenes per hour = scenes / the batch's wall clock
(worker start-up included, Ray's own start not).

One scene: `dvr fit` of the example for ``--iters`` iterations on 1 core (taskset), on every
core (1 process, torch threads = cores), and as 2 processes (`--nproc 2`, gloo, 1 thread each);
rays/s = iterations x rays per step / fitting seconds (metrics.jsonl).

What 2 cores allow: 2x the 1-core rate. Against the 1-process, all-cores baseline that bound is
2 / s, with s the speed-up its threads already give over 1 core; the table reports each ratio
against it.

    .venv/bin/python benchmarks/bench_scale.py                                  # 4 scenes, 150 iterations
    .venv/bin/python benchmarks/bench_scale.py --scenes 2 --iters 20 --resolution 64   # smoke
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import example_scene  # noqa: E402  (sibling script modules)
from common import machine, machine_title, write_json  # noqa: E402


# ----------------------------------------------------------------------------- batch
def batch_rate(scene: Path, n_scenes: int, iters: int, resolution: int, workers: int, cores: int, out: Path) -> dict:
    """Run ``n_scenes`` copies of ``scene`` with ``workers`` workers sharing ``cores`` cores."""
    import ray

    from dvr_cli.batch import Cluster, ExportOptions, SceneSpec, run_batch

    specs = [
        SceneSpec(
            f"scene{i}",
            scene / "images",
            cameras=scene / "cams.json",
            gt_mesh=scene / "mesh.ply",
            config={"iters": iters, "holdout": 8, "seed": i},
        )
        for i in range(n_scenes)
    ]
    shutil.rmtree(out, ignore_errors=True)
    ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        report = run_batch(specs, out, Cluster(cpus_per_scene=cores // workers), ExportOptions("ply", resolution))
    finally:
        ray.shutdown()
    if report.failed:
        raise SystemExit(f"batch with {workers} worker(s): {report.failed[0].name} failed: {report.failed[0].error}")
    fit_s = [r.seconds["fit"] for r in report.results]
    return {
        "workers": workers,
        "cpus_per_scene": cores // workers,
        "scenes": n_scenes,
        "seconds": report.seconds,
        "scenes_per_hour": report.scenes_per_hour(),
        "mean_fit_s": sum(fit_s) / len(fit_s),
        "mean_scene_s": sum(r.seconds["total"] for r in report.results) / n_scenes,
        "masked_psnr": [r.scores.get("masked_psnr") for r in report.results],
        "chamfer_l1": [r.scores.get("chamfer_l1") for r in report.results],
    }


# ------------------------------------------------------------------------- one scene
def fit_rate(scene: Path, iters: int, out: Path, nproc: int = 1, one_core: bool = False) -> dict:
    """`dvr fit` of ``scene`` in a subprocess; rays/s from its metrics.jsonl."""
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "dvr_cli.cli",
        "fit",
        str(scene),
        "--iters",
        str(iters),
        "--out",
        str(out),
        "--device",
        "cpu",
    ] + (["--nproc", str(nproc)] if nproc > 1 else [])
    if one_core:
        command = ["taskset", "-c", "0", *command]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((out / "config.json").read_text())
    last = records[-1]
    return {
        "processes": nproc,
        "cores": 1 if one_core else len(os.sched_getaffinity(0)),
        "iterations": last["iter"],
        "fit_s": last["time"],
        "rays_per_s": last["iter"] * config["sampler"]["rays_per_step"] / last["time"],
    }


# ------------------------------------------------------------------------------ main
def table(result: dict) -> str:
    b1, b2 = result["batch"]
    one, full, two = result["fit"]["one_core"], result["fit"]["one_process"], result["fit"]["two_processes"]
    bound = result["bound_vs_one_process"]
    lines = [
        f"bench_scale on {machine_title(result['machine'])}, load average "
        f"{result['load_average'][0]:.1f} before / {result['load_average'][1]:.1f} after",
        "",
        "| what | setting | rate | ratio (2 vs 1) | bound on 2 cores | share of bound |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| `dvr batch`, {b1['scenes']} scenes x {result['iters']} iterations | 1 worker x {b1['cpus_per_scene']} "
        f"cores | {b1['scenes_per_hour']:.0f} scenes/h | | | |",
        f"| | 2 workers x {b2['cpus_per_scene']} core | {b2['scenes_per_hour']:.0f} scenes/h | "
        f"{result['batch_ratio']:.2f}x | {bound:.2f}x | {result['batch_ratio'] / bound:.0%} |",
        f"| one scene, {result['iters']} iterations | 1 process, 1 core | {one['rays_per_s']:,.0f} rays/s | | | |",
        f"| | 1 process, {full['cores']} threads | {full['rays_per_s']:,.0f} rays/s | | | |",
        f"| | 2 processes (gloo), 1 thread each | {two['rays_per_s']:,.0f} rays/s | "
        f"{result['fit_ratio']:.2f}x | {bound:.2f}x | {result['fit_ratio'] / bound:.0%} |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, default=None, help="example scene folder (default: generated)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "scale")
    parser.add_argument("--scenes", type=int, default=4, help="scenes per batch (default 4)")
    parser.add_argument("--iters", type=int, default=150, help="iterations per fit (default 150)")
    parser.add_argument("--resolution", type=int, default=256, help="mesh resolution of export and eval (256)")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        raise SystemExit("bench_scale needs at least 2 cores")
    scene = args.scene or example_scene(args.out / "example")
    runs = args.out / "runs"
    load_before = os.getloadavg()[0]  # other processes on the machine skew every rate: record them

    fit = {
        "one_core": fit_rate(scene, args.iters, runs / "fit-1core", one_core=True),
        "one_process": fit_rate(scene, args.iters, runs / "fit-1proc"),
        "two_processes": fit_rate(scene, args.iters, runs / "fit-2proc", nproc=2),
    }
    batch = [
        batch_rate(scene, args.scenes, args.iters, args.resolution, workers, 2, runs / f"batch-{workers}")
        for workers in (1, 2)
    ]
    thread_speedup = fit["one_process"]["rays_per_s"] / fit["one_core"]["rays_per_s"]
    result = {
        "machine": machine(),
        "load_average": [load_before, os.getloadavg()[0]],
        "iters": args.iters,
        "fit": fit,
        "batch": batch,
        "thread_speedup": thread_speedup,
        "bound_vs_one_process": 2.0 / thread_speedup,
        "batch_ratio": batch[1]["scenes_per_hour"] / batch[0]["scenes_per_hour"],
        "fit_ratio": fit["two_processes"]["rays_per_s"] / fit["one_process"]["rays_per_s"],
    }
    write_json(args.out / "bench_scale.json", result)
    print(table(result))
    print(f"\nJSON: {args.out / 'bench_scale.json'}")


if __name__ == "__main__":
    main()
