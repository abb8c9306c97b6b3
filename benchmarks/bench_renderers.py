"""The unified (UNISURF) fit against DVR's surface fit at equal iterations, with and without masks.

Both fits step in one process, interleaved step by step, so CPU contention falls on both alike;
each is iteration-planned (repeatable). Scores: held-out masked PSNR and silhouette IoU (the masks
only score a fit without masks), Chamfer-L1 on the example scene; seconds per step of each.
One JSON line per fit is appended to --out as it finishes.

    .venv/bin/python benchmarks/bench_renderers.py --scene examples/data/example --iters 400
    .venv/bin/python benchmarks/bench_renderers.py --scene ../shared/data/dtu_scan65 --downscale 4 --holdout 7 \
        --no-masks
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def load(scene_dir: Path, downscale: float):
    from dvr_cli.scene import load_scene

    if (scene_dir / "cameras.npz").is_file() and (scene_dir / "image").is_dir():  # DTU
        return load_scene(scene_dir / "image", scene_dir / "cameras.npz", masks=scene_dir / "mask", downscale=downscale)
    return load_scene(scene_dir / "images", scene_dir / "cams.json", downscale=downscale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", type=Path, required=True)
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--downscale", type=float, default=1.0)
    parser.add_argument("--holdout", type=int, default=0, help="hold out every K-th view (0: the scene's test/ views)")
    parser.add_argument("--no-masks", action="store_true", help="fit without masks (they only score)")
    parser.add_argument("--renderers", default="unified,surface")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench_renderers.jsonl"))
    parser.add_argument("--work", type=Path, default=Path("runs/bench_renderers"))
    args = parser.parse_args()

    import torch

    from dvr_cli.config import FitConfig
    from dvr_cli.evaluate.report import evaluate_run
    from dvr_cli.fit.trainer import FitJob
    from dvr_cli.run import CONFIG, SCENE, SceneRecord, holdout_split, load_run

    torch.set_num_threads(args.threads)
    scene = load(args.scene, args.downscale)
    fitted = scene
    if args.no_masks:  # the views keep their mask paths: the run's record scores with them
        fitted = scene.without_masks()
    tag = f"{args.scene.name}-{'nomask' if args.no_masks else 'mask'}-{args.iters}"
    jobs, seconds = {}, {}
    for renderer in args.renderers.split(","):
        cfg = FitConfig.from_preset(
            "fast",
            iters=args.iters,
            device="cpu",
            renderer=renderer,
            holdout=args.holdout,
            preview_every_s=1e9,
            downscale=args.downscale,
        )
        run_dir = args.work / f"{tag}-{renderer}"
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / CONFIG)
        train, holdout = holdout_split(len(scene), cfg.holdout)
        SceneRecord.from_scene(scene, train, holdout).save(run_dir / SCENE)
        jobs[renderer], seconds[renderer] = FitJob(fitted, cfg, run_dir, train), []
    for _ in range(args.iters):
        for renderer, job in jobs.items():
            start = time.perf_counter()
            job.step()
            seconds[renderer].append(time.perf_counter() - start)
    gt = args.scene / "mesh.ply"
    test = args.scene / "test" / "cams.json" if not args.holdout else None
    for renderer, job in jobs.items():
        job.save()
        result = evaluate_run(
            load_run(job.run_dir, device="cpu"), gt if gt.is_file() else None, test, resolution=128, n_points=30_000
        )
        row = {
            "scene": args.scene.name,
            "masks": not args.no_masks,
            "iters": args.iters,
            "renderer": renderer,
            "s_per_step": round(float(np.mean(seconds[renderer])), 4),
            "chamfer_pct": (result.get("geometry") or {}).get("chamfer_l1_pct"),
            **{k: result["images"]["mean"].get(k) for k in ("masked_psnr", "iou", "psnr")},
        }
        print(json.dumps(row), flush=True)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
