"""Does the fit run on a GPU, and agree with the CPU? The example's fit, per variant, on both.

For each variant (the `fast` preset, plus the unified renderer, or any ``--variant NAME:KEY=VALUE,...``):
  CPU half: a short iteration-planned fit on the CPU (``--cpu-iters``), the exported mesh's
    Chamfer-L1 to the example's ground truth and the held-out masked PSNR of the field.
  GPU half (only where CUDA is available): the same short fit on the GPU, scored the same way and
    checked against the CPU's (the fits differ by rounding, not by more than ``--psnr-tol`` dB and
    ``--chamfer-tol`` x the CPU's Chamfer); then a longer GPU fit (``--gpu-iters``) scored every
    ``--eval-every`` iterations: rays/s and the seconds to the example's target (Chamfer <= 1% of the
    GT diagonal and masked PSNR >= 25 dB, bench_fit's); and the mesh export on the GPU.
  Encodings on the GPU: field evaluations per second (forward and backward) of the default field,
    whose grid encoding runs the torch path there (the native kernel is CPU-only), and of
    tiny-cuda-nn's hash-grid encoding of the same levels when ``tinycudann`` is installed.
Writes JSON (``--out``), prints one line per result; exit 1 when a GPU result disagrees with the CPU.
Without CUDA the GPU half is skipped and said so.

    .venv/bin/python benchmarks/gpu_check.py                      # example scene, generated once
    .venv/bin/python benchmarks/gpu_check.py --variant big:rays_per_step=8192 --gpu-iters 4000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import ROOT, TARGET_CHAMFER_PCT, TARGET_PSNR, example_scene  # noqa: E402  (sibling scripts)
from common import field_quality, machine, write_json  # noqa: E402


def parse_variant(spec: str) -> tuple[str, dict]:
    """'NAME:KEY=VALUE,KEY=VALUE' -> (NAME, overrides) with JSON values where they parse."""
    name, _, pairs = spec.partition(":")
    overrides = {}
    for pair in filter(None, pairs.split(",")):
        key, _, value = pair.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return name, overrides


def default_variants() -> list[tuple[str, dict]]:
    """The default fit, and the unified (UNISURF) renderer's."""
    return [("fast", {}), ("unified", {"renderer": "unified"})]


class Example:
    """The example scene's training and test views and ground-truth mesh."""

    def __init__(self, scene_dir: Path):
        from dvr_cli.evaluate.geometry import load_mesh
        from dvr_cli.scene import load_scene

        self.dir = scene_dir
        self.scene = load_scene(scene_dir / "images", scene_dir / "cams.json")
        self.test = load_scene(scene_dir / "test" / "images", scene_dir / "test" / "cams.json").views
        self.gt = load_mesh(scene_dir / "mesh.ply")


def fit_and_score(
    example: Example, overrides: dict, device: str, iters: int, eval_every: int, args, run_dir: Path
) -> dict:
    """An ``iters``-iteration fit on ``device``, scored every ``eval_every`` iterations (and at the
    end), then exported (PLY, field colours) on the same device; the export's Chamfer is scored too."""
    from dvr_cli.config import FitConfig
    from dvr_cli.evaluate.geometry import load_mesh, mesh_distances
    from dvr_cli.fit import fit
    from dvr_cli.mesh.export import export_mesh
    from dvr_cli.run import load_run

    cfg = FitConfig.from_preset("fast", iters=iters, device=device, preview_every_s=1e9, **overrides)
    curve = []

    def score(job) -> bool:
        if job.iteration % eval_every == 0 or job.iteration == iters:
            quality = field_quality(
                job.model,
                example.scene.normalization,
                example.test,
                example.gt,
                args.mesh_resolution,
                args.points,
                args.eval_samples,
            )
            curve.append({"iteration": job.iteration, "fit_s": round(job.elapsed, 2), **quality})
        return False

    result = fit(example.scene, cfg, run_dir, hooks=[score])
    reached = [p for p in curve if p["chamfer_pct"] <= TARGET_CHAMFER_PCT and p["masked_psnr"] >= TARGET_PSNR]
    tick = time.monotonic()
    mesh = export_mesh(
        load_run(run_dir, device=device),
        "ply",
        resolution=args.mesh_resolution,
        out=run_dir / "mesh.ply",
        colors="field",
    )
    export_s = time.monotonic() - tick
    exported = mesh_distances(load_mesh(mesh), example.gt, n_points=args.points)["chamfer_l1_pct"]
    return {
        "device": device,
        "iters": result.iterations,
        "fit_s": round(result.seconds, 2),
        "rays_per_s": round(result.iterations * cfg.sampler.rays_per_step / max(result.seconds, 1e-9), 1),
        "compiled": result.compiled,
        "seconds_to_target": reached[0]["fit_s"] if reached else None,
        "export_s": round(export_s, 2),
        "export_chamfer_pct": exported,
        "final": curve[-1],
        "curve": curve,
    }


def _rate(step, n_points: int, repeats: int = 20) -> float:
    """Points per second of ``step()`` (a forward and backward on the GPU), median of ``repeats``."""
    import statistics

    import torch

    step()
    seconds = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        tick = time.perf_counter()
        step()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - tick)
    return n_points / statistics.median(seconds)


def encoding_rates(n_points: int = 1 << 18) -> dict:
    """Field evaluations/s on CUDA: the default field (its encoding on the torch path) and, when
    installed, tiny-cuda-nn's HashGrid encoding of the same number of levels (encoding alone)."""
    import torch

    from dvr_cli.config import FitConfig

    field_cfg = FitConfig.from_preset("fast").field
    field = field_cfg.setup().cuda()
    points = torch.rand(n_points, 3, device="cuda") * 2 - 1

    def field_step():
        logits, rgb = field(points)
        (logits.sum() + rgb.sum()).backward()

    rates = {"field_torch_path": round(_rate(field_step, n_points))}
    try:
        import tinycudann as tcnn
    except ImportError:
        rates["tiny_cuda_nn"] = "not installed"
        return rates
    resolutions = field_cfg.resolutions + field_cfg.hash_resolutions
    encoding = tcnn.Encoding(
        3,
        {
            "otype": "HashGrid",
            "n_levels": len(resolutions),
            "n_features_per_level": 2,
            "log2_hashmap_size": field_cfg.hash_table_log2,
            "base_resolution": resolutions[0],
            "per_level_scale": (resolutions[-1] / resolutions[0]) ** (1 / (len(resolutions) - 1)),
        },
    )
    unit = (points + 1) / 2

    def tcnn_step():
        encoding(unit).float().sum().backward()

    rates["tiny_cuda_nn_encoding"] = round(_rate(tcnn_step, n_points))
    return rates


def agreement(cpu: dict, gpu: dict, args) -> dict:
    """The GPU's short fit against the CPU's: masked PSNR within psnr_tol dB, Chamfer within chamfer_tol x."""
    psnr_gap = abs(gpu["final"]["masked_psnr"] - cpu["final"]["masked_psnr"])
    chamfer_ratio = gpu["export_chamfer_pct"] / max(cpu["export_chamfer_pct"], 1e-9)
    return {
        "psnr_gap_db": round(psnr_gap, 3),
        "chamfer_ratio": round(chamfer_ratio, 3),
        "agrees": psnr_gap <= args.psnr_tol and chamfer_ratio <= args.chamfer_tol,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", type=Path, default=None, help="example-style scene folder; default: generate")
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        metavar="NAME:KEY=VALUE,...",
        help="a fit to check (FitConfig overrides of the fast preset); repeatable",
    )
    parser.add_argument("--cpu-iters", type=int, default=200, help="iterations of the short fit on each device")
    parser.add_argument("--gpu-iters", type=int, default=3000, help="iterations of the long GPU fit")
    parser.add_argument("--eval-every", type=int, default=250, help="iterations between quality checks (GPU fit)")
    parser.add_argument("--psnr-tol", type=float, default=1.0, help="dB the GPU's masked PSNR may differ by")
    parser.add_argument("--chamfer-tol", type=float, default=1.5, help="the GPU's Chamfer at most this x the CPU's")
    parser.add_argument("--mesh-resolution", type=int, default=128)
    parser.add_argument("--points", type=int, default=20000, help="surface samples per side for Chamfer")
    parser.add_argument("--eval-samples", type=int, default=128, help="ray-marching samples of the test renders")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "gpu_check.json")
    args = parser.parse_args()

    import torch

    from dvr_cli.runtime import setup_process

    setup_process(args.threads)
    example = Example(args.scene or example_scene(ROOT / "benchmarks" / "out" / "example"))
    variants = [parse_variant(v) for v in args.variant] if args.variant else default_variants()
    cuda = torch.cuda.is_available()
    report = {
        "machine": machine(),
        "scene": str(example.dir),
        "target": {"chamfer_pct": TARGET_CHAMFER_PCT, "masked_psnr": TARGET_PSNR},
        "gpu": "ran" if cuda else "skipped: no CUDA device",
        "variants": {},
    }
    if not cuda:
        print("gpu_check: no CUDA device: the GPU half is skipped, the CPU half runs")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in variants:
            entry = {"overrides": overrides}
            entry["cpu"] = fit_and_score(
                example, overrides, "cpu", args.cpu_iters, args.cpu_iters, args, Path(tmp) / f"{name}-cpu"
            )
            print(
                f"{name} cpu: {entry['cpu']['iters']} it, {entry['cpu']['rays_per_s']:,.0f} rays/s, "
                f"masked PSNR {entry['cpu']['final']['masked_psnr']:.2f} dB, "
                f"mesh Chamfer {entry['cpu']['export_chamfer_pct']:.3f} %"
            )
            if cuda:
                entry["gpu_short"] = fit_and_score(
                    example, overrides, "cuda", args.cpu_iters, args.cpu_iters, args, Path(tmp) / f"{name}-gpu-short"
                )
                entry["agreement"] = agreement(entry["cpu"], entry["gpu_short"], args)
                ok &= entry["agreement"]["agrees"]
                entry["gpu"] = fit_and_score(
                    example, overrides, "cuda", args.gpu_iters, args.eval_every, args, Path(tmp) / f"{name}-gpu"
                )
                gpu = entry["gpu"]
                print(
                    f"{name} gpu: agrees with cpu {entry['agreement']}; {gpu['iters']} it, "
                    f"{gpu['rays_per_s']:,.0f} rays/s, seconds to target {gpu['seconds_to_target']}, "
                    f"masked PSNR {gpu['final']['masked_psnr']:.2f} dB, export {gpu['export_s']:.1f} s"
                )
            report["variants"][name] = entry
    if cuda:
        report["encodings"] = encoding_rates()
        print(f"encodings on the GPU (field evaluations/s, forward and backward): {report['encodings']}")
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
