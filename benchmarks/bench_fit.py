"""Time-to-quality of the `fast` preset against the published `paper` configuration.

Each preset fits the same scene for a fixed wall-clock budget in its own process (so peak
memory is its own); every ``--eval-every`` seconds of fitting the run is paused and scored:
Chamfer-L1 to the ground-truth mesh (% of its bbox diagonal) and masked PSNR on held-out views.
Evaluation time is not counted in the budget. Prints a table, writes JSON and a PNG plot.

    .venv/bin/python benchmarks/bench_fit.py                    # example scene, fast + paper
    .venv/bin/python benchmarks/bench_fit.py --budget 30 --paper-budget 30 --eval-every 10   # smoke

Before / after on one machine (``--compare KEY=A,B``): two fits of the `fast` preset that differ
only in one FitConfig value (e.g. ``stop_at_hit=false,true`` or ``compile=false,true``) step in turn
in one process (A, B, A, B ...), so both see the same load; reports steps per minute of each, their
ratio, and the peak memory of each (a child process per value, the late schedule):

    .venv/bin/python benchmarks/bench_fit.py --compare stop_at_hit=false,true --compare-steps 300
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import field_quality, machine, machine_title, write_json  # noqa: E402  (a sibling script module)

TARGET_CHAMFER_PCT = 1.0  # Chamfer-L1 <= 1% of the GT bbox diagonal
TARGET_PSNR = 25.0  # masked PSNR on held-out views, dB


def example_scene(out: Path) -> Path:
    """The default example scene, generated once under ``out``."""
    if not (out / "cams.json").is_file():
        spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
        module = sys.modules.setdefault("make_example", importlib.util.module_from_spec(spec))
        spec.loader.exec_module(module)
        module.make_example(out)
    return out


# ------------------------------------------------------------------------------ worker
def run_worker(args) -> None:
    """Fit one preset with periodic quality checks; print one JSON line with the results."""
    import numpy as np
    import torch

    from dvr_cli.config import FitConfig
    from dvr_cli.evaluate.geometry import load_mesh
    from dvr_cli.fit import fit
    from dvr_cli.runtime import setup_process
    from dvr_cli.scene import load_scene

    setup_process(args.threads)
    scene_dir = Path(args.scene)
    scene = load_scene(scene_dir / "images", scene_dir / "cams.json")
    test = load_scene(scene_dir / "test" / "images", scene_dir / "test" / "cams.json")
    gt = load_mesh(scene_dir / "mesh.ply")
    norm = scene.normalization
    overrides = {
        "minutes": args.budget / 60.0,
        "device": args.device,
        "preview_every_s": 1e9,
        "checkpoint_every_s": 120,
    }
    cfg = FitConfig.from_preset(args.worker, **overrides)
    curve: list[dict] = []
    clock = {"last": 0.0}

    def score(job, force: bool = False) -> bool:
        """The fit's hook: evaluate every ``eval_every`` seconds of fitting (job.elapsed excludes this)."""
        clock["job"] = job
        fit_s = job.elapsed
        if not force and fit_s - clock["last"] < args.eval_every:
            return False
        clock["last"] = fit_s
        quality = field_quality(job.model, norm, test.views, gt, args.mesh_resolution, args.points, args.eval_samples)
        point = {"fit_s": round(fit_s, 2), "iteration": job.iteration, **quality}
        curve.append(point)
        print(json.dumps({"progress": point}), file=sys.stderr, flush=True)
        reached = point["chamfer_pct"] <= TARGET_CHAMFER_PCT and point["masked_psnr"] >= TARGET_PSNR
        return reached and args.stop_at_target

    with tempfile.TemporaryDirectory() as tmp:
        result = fit(scene, cfg, Path(tmp) / "run", hooks=[score])
        if result.iterations == 0:  # the set-up took the whole budget: nothing to score
            raise SystemExit(
                f"bench_fit: the {args.worker} preset made no step in its {args.budget:g} s budget "
                "(the set-up took it all): give it a longer budget"
            )
        if not curve or curve[-1]["iteration"] != result.iterations:
            score(clock["job"], force=True)  # the state the budget ended on
        log = Path(tmp) / "run" / "metrics.jsonl"
        metrics = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    fit_s = result.seconds
    evals = float(np.mean([m["march_evals"] for m in metrics])) if metrics else 0.0
    reached = [p for p in curve if p["chamfer_pct"] <= TARGET_CHAMFER_PCT and p["masked_psnr"] >= TARGET_PSNR]
    out = {
        "preset": args.worker,
        "field": cfg.field.kind,
        "budget_s": args.budget,
        "fit_s": round(fit_s, 1),
        "iterations": result.iterations,
        "time_to_target_s": reached[0]["fit_s"] if reached else None,
        "best_chamfer_pct": min((p["chamfer_pct"] for p in curve), default=None),
        "best_masked_psnr": max((p["masked_psnr"] for p in curve), default=None),
        "rays_per_s": round(result.iterations * cfg.sampler.rays_per_step / max(fit_s, 1e-9), 1),
        "field_evals_per_s": round(evals * result.iterations / max(fit_s, 1e-9), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cuda_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None,
        "curve": curve,
    }
    print(json.dumps(out))


# ----------------------------------------------------------------------------- compare
DTU65 = ROOT.parent / "shared" / "data" / "dtu_scan65"


def compare_scene(args):
    """DTU 65 at 400x300 (``--compare-scene``, downscale 4) or, where it is absent, the example."""
    from dvr_cli.scene import load_scene

    if args.compare_scene.is_dir():
        return load_scene(args.compare_scene, downscale=args.compare_downscale), str(args.compare_scene)
    scene_dir = args.scene or example_scene(ROOT / "benchmarks" / "out" / "example")
    print(f"bench_fit: {args.compare_scene} is absent: comparing on the example scene", file=sys.stderr)
    return load_scene(scene_dir / "images", scene_dir / "cams.json"), str(scene_dir)


def compare_values(spec: str) -> tuple[str, list]:
    """'key=a,b' -> ('key', [a, b]) with JSON values (true, 3, 0.5) or strings."""
    key, _, values = spec.partition("=")
    parsed = []
    for v in values.split(","):
        try:
            parsed.append(json.loads(v))
        except json.JSONDecodeError:
            parsed.append(v)
    if len(parsed) != 2:
        raise SystemExit(f"bench_fit: --compare takes KEY=A,B (two values), got {spec!r}")
    return key, parsed


def _job(scene, key, value, args, tmp: Path):
    from dvr_cli.config import FitConfig
    from dvr_cli.fit.trainer import FitJob

    cfg = FitConfig.from_preset("fast", iters=args.compare_steps, device=args.device, **{key: value})
    return FitJob(scene, cfg, tmp / f"{key}={value}", list(range(len(scene))))


def memory_worker(args) -> None:
    """One value of the comparison alone in this process: ``--compare-memory-steps`` steps from 70% of
    the plan on (all levels, the most marching samples); print its peak RSS (MB) as JSON."""
    from dvr_cli.runtime import setup_process

    setup_process(args.threads)
    scene, _ = compare_scene(args)
    key, values = compare_values(args.compare)
    with tempfile.TemporaryDirectory() as tmp:
        job = _job(scene, key, values[args.memory_worker], args, Path(tmp))
        job.iteration = int(0.7 * args.compare_steps)
        for _ in range(args.compare_memory_steps):
            job.step()
    print(json.dumps({"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def field_rates(fields, n_points: int, repeats: int) -> list[float]:
    """Field evaluations per second, forward and backward (logits and colours of ``n_points`` random
    points in the cube, every level on), of each field in turn (A, B, B, A ...): median over ``repeats``."""
    import time

    import numpy as np
    import torch

    generator = torch.Generator().manual_seed(0)
    points = torch.rand(n_points, 3, generator=generator) * 2 - 1
    seconds: list[list[float]] = [[] for _ in fields]
    for field in fields:
        field.set_active_levels(field.n_levels)
    for i in range(repeats + 1):
        for k in range(len(fields)) if i % 2 == 0 else reversed(range(len(fields))):
            tick = time.perf_counter()
            logits, rgb = fields[k](points)
            (logits.sum() + rgb.sum()).backward()
            if i:  # the first round warms up
                seconds[k].append(time.perf_counter() - tick)
            fields[k].zero_grad(set_to_none=True)
    return [n_points / float(np.median(t)) for t in seconds]


def run_compare(args) -> dict:
    """Interleaved steps of the two values (the order alternating every step); steps per minute of
    each over the whole plan, their ratio, marching evaluations, and each value's peak memory."""
    import time

    import numpy as np

    from dvr_cli.runtime import setup_process

    setup_process(args.threads)
    key, values = compare_values(args.compare)
    scene, source = compare_scene(args)
    seconds = {0: [], 1: []}
    evals = {0: [], 1: []}
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [_job(scene, key, v, args, Path(tmp)) for v in values]
        for i in range(args.compare_steps):
            for k in (0, 1) if i % 2 == 0 else (1, 0):
                tick = time.perf_counter()
                record = jobs[k].step()
                seconds[k].append(time.perf_counter() - tick)
                evals[k].append(record.evaluations)
        last = [job.record for job in jobs]
        compiled = [job.compiled for job in jobs]
        rates = field_rates([job.model.field for job in jobs], args.compare_points, args.compare_field_repeats)
    variants = []
    for k, value in enumerate(values):
        cmd = [
            sys.executable,
            __file__,
            "--compare",
            args.compare,
            "--memory-worker",
            str(k),
            "--compare-scene",
            str(args.compare_scene),
            "--compare-downscale",
            str(args.compare_downscale),
            "--compare-steps",
            str(args.compare_steps),
            "--compare-memory-steps",
            str(args.compare_memory_steps),
            "--device",
            args.device,
        ] + (["--threads", str(args.threads)] if args.threads else [])
        if args.scene:
            cmd += ["--scene", str(args.scene)]
        memory = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True).stdout.strip().splitlines()[-1]
        t = np.array(seconds[k])
        variants.append(
            {
                "value": value,
                "steps_per_min": round(60.0 / t.mean(), 1),
                "field_evals_per_s": round(rates[k]),
                "first_step_s": round(float(t[0]), 3),
                "median_step_s": round(float(np.median(t)), 4),
                "march_evals_per_step": round(float(np.mean(evals[k]))),
                "final_total": last[k].total,
                "final_hit_rate": last[k].hit_rate,
                "compiled": compiled[k],
                **json.loads(memory),
            }
        )
    a, b = variants
    return {
        "key": key,
        "scene": source,
        "steps": args.compare_steps,
        "variants": variants,
        "ratio_steps_per_min": round(b["steps_per_min"] / a["steps_per_min"], 3),
        "ratio_field_evals": round(b["field_evals_per_s"] / a["field_evals_per_s"], 3),
        "ratio_median_step": round(a["median_step_s"] / b["median_step_s"], 3),
        "ratio_peak_rss": round(b["peak_rss_mb"] / a["peak_rss_mb"], 3),
    }


def report_compare(result: dict, info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"bench_fit --compare {result['key']}: {result['steps']} interleaved steps each, {machine_title(info)}"
    )
    for col in (
        result["key"],
        "steps/min",
        "field evals/s",
        "median step s",
        "first step s",
        "march evals/step",
        "final loss",
        "peak RSS MB",
        "compiled",
    ):
        table.add_column(col, justify="right")
    for v in result["variants"]:
        table.add_row(
            json.dumps(v["value"]),
            f"{v['steps_per_min']:.0f}",
            f"{v['field_evals_per_s']:,}",
            f"{v['median_step_s']:.3f}",
            f"{v['first_step_s']:.2f}",
            f"{v['march_evals_per_step']:,}",
            f"{v['final_total']:.4f}",
            f"{v['peak_rss_mb']:,.0f}",
            str(v["compiled"]),
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    print(
        json.dumps(
            {k: result[k] for k in ("ratio_steps_per_min", "ratio_median_step", "ratio_field_evals", "ratio_peak_rss")}
        )
    )


# ------------------------------------------------------------------------------ driver
def run_preset(args, preset: str, budget: float) -> dict:
    every = args.paper_eval_every if preset == "paper" else args.eval_every
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        preset,
        "--scene",
        str(args.scene),
        "--budget",
        str(budget),
        "--eval-every",
        str(every),
        "--eval-samples",
        str(args.eval_samples),
        "--mesh-resolution",
        str(args.mesh_resolution),
        "--points",
        str(args.points),
        "--device",
        args.device,
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.stop_at_target:
        cmd.append("--stop-at-target")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_fit: the {preset} worker failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plot(results: dict[str, dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for name, res in results.items():
        t = [p["fit_s"] for p in res["curve"]]
        ax1.plot(t, [p["chamfer_pct"] for p in res["curve"]], "o-", label=name)
        ax2.plot(t, [p["masked_psnr"] for p in res["curve"]], "o-", label=name)
    ax1.axhline(TARGET_CHAMFER_PCT, ls="--", c="gray")
    ax2.axhline(TARGET_PSNR, ls="--", c="gray")
    ax1.set(xlabel="fit time (s)", ylabel="Chamfer-L1 (% of GT diagonal)", yscale="log", title="geometry")
    ax2.set(xlabel="fit time (s)", ylabel="masked PSNR, held-out views (dB)", title="appearance")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def report(results: dict[str, dict], info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"bench_fit: {machine_title(info)}")
    for col in (
        "preset",
        "budget s",
        "iters",
        "time to target s",
        "best Chamfer %",
        "best mPSNR dB",
        "rays/s",
        "field evals/s",
        "peak RSS MB",
    ):
        table.add_column(col, justify="right")

    def fmt(value, spec: str, missing: str = "-") -> str:
        return missing if value is None else format(value, spec)

    for name, r in results.items():
        table.add_row(
            name,
            fmt(r["budget_s"], ".0f"),
            str(r["iterations"]),
            fmt(r["time_to_target_s"], ".0f", "not reached"),
            fmt(r["best_chamfer_pct"], ".3f"),
            fmt(r["best_masked_psnr"], ".2f"),
            fmt(r["rays_per_s"], ",.0f"),
            fmt(r["field_evals_per_s"], ",.0f"),
            fmt(r["peak_rss_mb"], ",.0f"),
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scene",
        type=Path,
        default=None,
        help="example-style scene folder (images/, cams.json, test/, mesh.ply); default: generate",
    )
    parser.add_argument("--presets", default="fast,paper")
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of fitting for the fast preset")
    parser.add_argument("--paper-budget", type=float, default=360.0, help="seconds of fitting for the paper preset")
    parser.add_argument("--eval-every", type=float, default=20.0, help="seconds of fitting between quality checks")
    parser.add_argument(
        "--paper-eval-every",
        type=float,
        default=60.0,
        help="the same for the paper preset (its checks are slow: a 2.6M-parameter MLP)",
    )
    parser.add_argument("--eval-samples", type=int, default=128, help="ray-marching samples of the test-view renders")
    parser.add_argument("--mesh-resolution", type=int, default=128)
    parser.add_argument("--points", type=int, default=20000, help="surface samples per side for Chamfer")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--stop-at-target",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stop a preset once it reaches the quality target",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "fit")
    parser.add_argument(
        "--compare",
        default=None,
        metavar="KEY=A,B",
        help="instead: interleaved steps of two values of one FitConfig key (before / after)",
    )
    parser.add_argument("--compare-scene", type=Path, default=DTU65, help="scene of --compare (default DTU 65)")
    parser.add_argument("--compare-downscale", type=float, default=4.0, help="DTU 65 at 1600/4 x 1200/4")
    parser.add_argument("--compare-steps", type=int, default=300, help="the plan (iterations) of each value")
    parser.add_argument("--compare-memory-steps", type=int, default=20, help="late-schedule steps for peak memory")
    parser.add_argument("--compare-points", type=int, default=65536, help="points of the field-evaluation timing")
    parser.add_argument("--compare-field-repeats", type=int, default=20, help="timed field evaluations per value")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    if args.memory_worker is not None:
        memory_worker(args)
        return
    if args.compare:
        result = {"machine": machine(), **run_compare(args)}
        write_json(args.out / "bench_fit_compare.json", result)
        report_compare(result, result["machine"])
        print(f"wrote {args.out / 'bench_fit_compare.json'}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    args.scene = args.scene or example_scene(ROOT / "benchmarks" / "out" / "example")
    budgets = {"fast": args.budget, "paper": args.paper_budget}
    results = {p: run_preset(args, p, budgets.get(p, args.budget)) for p in args.presets.split(",")}
    info = machine()
    summary = {
        "machine": info,
        "scene": str(args.scene),
        "target": {"chamfer_pct": TARGET_CHAMFER_PCT, "masked_psnr": TARGET_PSNR},
        "presets": results,
    }
    fast, paper = results.get("fast"), results.get("paper")
    if fast and paper:
        summary["ratio"] = {
            "time_to_target_paper_over_fast": (
                paper["time_to_target_s"] / fast["time_to_target_s"]
                if paper["time_to_target_s"] and fast["time_to_target_s"]
                else None
            ),
            "paper_budget_over_fast_time_to_target": (
                paper["budget_s"] / fast["time_to_target_s"] if fast["time_to_target_s"] else None
            ),
            "rays_per_s_fast_over_paper": fast["rays_per_s"] / max(paper["rays_per_s"], 1e-9),
        }
    write_json(args.out / "bench_fit.json", summary)
    plotted = plot(results, args.out / "bench_fit.png")
    report(results, info)
    if "ratio" in summary:
        print(json.dumps(summary["ratio"]))
    print(f"wrote {args.out / 'bench_fit.json'}" + (f" and {args.out / 'bench_fit.png'}" if plotted else ""))


if __name__ == "__main__":
    main()
