"""What `dvr fit --viewer` costs the fit: rays/s with the viewer closed, open without a browser,
open with a browser that only watches, and with a browser whose user moves the camera.

The browser is simulated on the server side, as the viewer sees it: a connected client (the
server's client list) whose camera sends a new pose every ``--move-every`` seconds from another
thread (an orbit around the object), or never after the first (watching). Its renders arrive
through the same path as a real client's (``LiveRender`` -> deliver); the delivery only counts
them. rays/s is measured over the wall clock between the first and last step's hook, so the
viewer's time in the hook counts; that time's share of the wall clock is reported too (it is
what the viewer takes from the fit's thread, and unlike rays/s it does not move with the load
other processes put on the machine). Scenarios alternate for ``--rounds`` rounds (others' load on
the machine drifts); the median per scenario is reported. Prints a table, writes JSON.

    .venv/bin/python benchmarks/bench_viewer.py                       # example scene, 64 px, CPU
    .venv/bin/python benchmarks/bench_viewer.py --iters 20 --rounds 1 # smoke
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, machine_title, write_json  # noqa: E402  (a sibling script module)

SCENARIOS = ("closed", "open, no browser", "open, browser watching", "open, camera moving")
IDLE_LIMIT = 0.05  # the bound set on the cost of an open, idle viewer


def orbit_pose(base, angle: float):
    """``base`` (a viewer Pose) turned by ``angle`` about the vertical axis through the origin."""
    from viser.transforms import SO3

    from dvr_cli.viewer import Pose

    turn = SO3.from_z_radians(angle)
    return Pose((turn @ SO3(base.wxyz)).wxyz, turn.apply(base.position), base.fov, base.aspect)


def run_scenario(name: str, scene, cfg, out: Path, move_every: float, port: int) -> dict:
    """Fit once under ``name``; returns rays/s over the steps, renders delivered, viewer time share."""
    from dvr_cli.fit import fit
    from dvr_cli.viewer import pose_of, watch_fit

    stamps: list[float] = []
    frames: list[int] = []
    in_hook = [0.0]
    watch = None if name == "closed" else watch_fit(port=port)
    moving = threading.Event()
    if watch is not None and name != "open, no browser":
        watch.viewer.server.get_clients = lambda: {0: "simulated browser"}
        base = pose_of(scene.normalization.camera_to_unit(scene.views[0].camera))

        def move(k: int = 0) -> None:
            watch.viewer.live.request(0, orbit_pose(base, 0.05 * k), lambda out, camera: frames.append(camera.width))

        move()
        if name == "open, camera moving":

            def mover():
                k = 0
                while not moving.wait(move_every):
                    k += 1
                    move(k)

            threading.Thread(target=mover, daemon=True).start()

    def hook(job) -> bool:
        if watch is not None and not stamps:
            watch.on_start(job)  # what the loop calls on a watch passed as a hook
        stamps.append(time.monotonic())
        stop = watch.after_step(job) if watch is not None else False
        in_hook[0] += time.monotonic() - stamps[-1]
        return stop

    try:
        fit(scene, cfg, out, hooks=[hook])
    finally:
        moving.set()
        if watch is not None:
            watch.viewer.stop()
    seconds = stamps[-1] - stamps[0]
    return {
        "rays_per_s": (len(stamps) - 1) * cfg.sampler.rays_per_step / seconds,
        "seconds": seconds,
        "viewer_share": in_hook[0] / seconds,
        "renders": len(frames),
        "scores": len(watch.scores[0]) if watch is not None else 0,
    }


def table(result: dict) -> str:
    base = result["scenarios"]["closed"]["rays_per_s"]
    lines = [
        f"bench_viewer: {result['views']} views at {result['size']} px, {result['iters']} iterations x "
        f"{result['rounds']} rounds, {machine_title(result['machine'])}",
        f"load average {result['load_average'][0]:.1f} -> {result['load_average'][1]:.1f}",
        "",
        "| viewer | rays/s (median) | cost vs closed | viewer's share of the fit's thread | live renders / fit |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in SCENARIOS:
        s = result["scenarios"][name]
        lines.append(
            f"| {name} | {s['rays_per_s']:,.0f} | {1 - s['rays_per_s'] / base:+.1%} | "
            f"{s['viewer_share']:.1%} | {s['renders']} |"
        )
    share = result["scenarios"]["open, browser watching"]["viewer_share"]
    verdict = "met" if max(share, result["idle_cost"]) < IDLE_LIMIT else "NOT met"
    lines += [
        "",
        f"idle cost (browser watching): {result['idle_cost']:.1%} in rays/s, {share:.1%} of the fit's "
        f"thread in the viewer (limit {IDLE_LIMIT:.0%}: {verdict})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, default=None, help="example scene folder (default: generated)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "viewer")
    parser.add_argument("--views", type=int, default=12, help="views of the generated example (12)")
    parser.add_argument("--size", type=int, default=64, help="image size of the generated example (64)")
    parser.add_argument("--iters", type=int, default=120, help="iterations per fit (120)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the scenarios (2)")
    parser.add_argument("--move-every", type=float, default=0.1, help="seconds between camera moves (0.1)")
    parser.add_argument("--port", type=int, default=8099, help="port of the viewer (8099)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    args = parser.parse_args(argv)

    from dvr_cli.config import FitConfig
    from dvr_cli.runtime import setup_process
    from dvr_cli.scene import load_scene

    setup_process()
    scene_dir = args.scene
    if scene_dir is None:
        sys.path.insert(0, str(ROOT / "examples"))
        from make_example import make_example

        scene_dir = make_example(args.out / "example", views=args.views, size=(args.size, args.size), test_views=0)
    scene = load_scene(scene_dir)
    cfg = FitConfig.from_preset("fast", iters=args.iters, holdout=4, device=args.device)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict]] = {name: [] for name in SCENARIOS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for k, name in enumerate(SCENARIOS):
                runs[name].append(run_scenario(name, scene, cfg, Path(tmp) / f"{r}-{k}", args.move_every, args.port))
                print(f"round {r + 1}, {name}: {runs[name][-1]['rays_per_s']:,.0f} rays/s", flush=True)
    scenarios = {
        name: {
            "rays_per_s": statistics.median(x["rays_per_s"] for x in rs),
            "viewer_share": statistics.median(x["viewer_share"] for x in rs),
            "renders": int(np.median([x["renders"] for x in rs])),
            "runs": rs,
        }
        for name, rs in runs.items()
    }
    closed = scenarios["closed"]["rays_per_s"]
    result = {
        "machine": machine(),
        "load_average": [load_before, os.getloadavg()[0]],
        "views": len(scene),
        "size": scene.views[0].camera.width,
        "iters": args.iters,
        "rounds": args.rounds,
        "move_every_s": args.move_every,
        "device": args.device,
        "scenarios": scenarios,
        "idle_cost": 1 - scenarios["open, browser watching"]["rays_per_s"] / closed,
        "no_browser_cost": 1 - scenarios["open, no browser"]["rays_per_s"] / closed,
        "moving_cost": 1 - scenarios["open, camera moving"]["rays_per_s"] / closed,
    }
    path = write_json(args.out / "bench_viewer.json", result)
    print(table(result))
    print(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
