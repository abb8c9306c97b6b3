"""The top costs (torch.profiler, self CPU time by op) of fitting steps of the `fast` preset.

A fit planned over ``--plan`` iterations is stepped to ``--fraction`` of its plan (a trained field:
its marching, hits and levels as in that part of a real fit), then ``--steps`` steps are profiled
for each value of ``--compare KEY=A,B`` in turn (or once without it). Scene as bench_fit --compare:
DTU 65 at 400x300, or the example where DTU is absent.

    .venv/bin/python benchmarks/profile_step.py --fraction 0.5 --compare stop_at_hit=false,true
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import DTU65, _job, compare_scene, compare_values  # noqa: E402  (a sibling script module)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", default=None, metavar="KEY=A,B")
    parser.add_argument("--fraction", type=float, default=0.5, help="share of the plan fitted before profiling")
    parser.add_argument("--plan", type=int, default=100, help="iterations of the plan")
    parser.add_argument("--steps", type=int, default=5, help="steps profiled per value")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--scene", type=Path, default=None, help="example-style scene where DTU 65 is absent")
    parser.add_argument("--compare-scene", type=Path, default=DTU65)
    parser.add_argument("--compare-downscale", type=float, default=4.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    from torch.profiler import ProfilerActivity, profile

    from dvr_cli.runtime import setup_process

    setup_process(args.threads)
    args.compare_steps = args.plan
    scene, source = compare_scene(args)
    key, values = compare_values(args.compare) if args.compare else ("preset", ["fast"])
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [
            _job(scene, key, v, args, Path(tmp)) if args.compare else _job(scene, "preset", "fast", args, Path(tmp))
            for v in values
        ]
        for job in jobs:
            while job.iteration < int(args.fraction * args.plan):
                job.step()
        for value, job in zip(values, jobs):
            job.step()  # warm
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(args.steps):
                    job.step()
            events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
            total = sum(e.self_cpu_time_total for e in events)
            top = [
                {"op": e.key, "share": round(e.self_cpu_time_total / total, 3), "calls": e.count // args.steps}
                for e in events[: args.top]
            ]
            print(
                json.dumps(
                    {
                        "scene": source,
                        key: value,
                        "fraction": args.fraction,
                        "march_evals": job.record.evaluations,
                        "self_cpu_ms_per_step": round(total / 1e3 / args.steps, 1),
                        "top": top,
                    }
                )
            )


if __name__ == "__main__":
    main()
