"""`dvr batch`: many scenes (a manifest or a folder of scene folders) on Ray, with a live table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from .evaluate import _fmt

#: Scores shown in the table (batch.csv has them all).
SHOWN = (("masked_psnr", "masked PSNR"), ("iou", "IoU"), ("chamfer_l1", "Chamfer-L1"))
STATE_STYLE = {"queued": "dim", "running": "cyan", "done": "green", "failed": "red"}


def _relative(path: str | None, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (the table is narrow), else as it is."""
    if not path:
        return ""
    try:
        return str(Path(path).relative_to(root.resolve()))
    except ValueError:
        return path


def batch_table(rows, out: Path) -> Table:
    """A rich table of :class:`dvr_cli.batch.SceneRow` s: state, progress, scores, and the mesh (relative to
    the batch's ``out``) or the reason of a failure."""
    table = Table(title="dvr batch", title_justify="left")
    table.add_column("scene")
    table.add_column("state")
    table.add_column("iteration", justify="right")
    for _, label in SHOWN:
        table.add_column(label, justify="right")
    table.add_column("time", justify="right")
    table.add_column("mesh / reason", no_wrap=True, overflow="ellipsis")
    for row in rows:
        result = row.result
        state = f"[{STATE_STYLE[row.state]}]{row.state}[/]"
        progress = f"{row.iteration}/{row.total}" if row.total else (str(row.iteration) if row.iteration else "")
        if row.state == "running":
            state += f" ({row.stage})"
        if result is not None and result.reused:
            state += " (earlier run)"
        if result is not None and len(result.attempts) > 1:
            progress += " (resumed at " + ", ".join(map(str, result.attempts[1:])) + ")"
        scores = [_fmt((result.scores if result else {}).get(key, math.nan)) if result else "" for key, _ in SHOWN]
        seconds = f"{result.seconds['total']:.0f} s" if result is not None and "total" in result.seconds else ""
        note = (result.error or _relative(result.mesh, out)) if result is not None else ""
        table.add_row(row.name, state, progress, *scores, seconds, escape(note))
    return table


def register(app: typer.Typer) -> None:
    @app.command("batch")
    def batch(
        scenes: Path = typer.Argument(
            ...,
            help="Manifest (.yaml / .json: one entry per scene with images, cameras, "
            "masks and options) or a folder of scene folders (each one `dvr fit` takes).",
        ),
        out: Path = typer.Option(
            Path("runs/batch"),
            "--out",
            "-o",
            help="Folder for the scenes' run folders "
            "(OUT/<scene>/) and batch.json / batch.csv: new, empty or an earlier batch. Run "
            "again: finished scenes whose settings and inputs are unchanged are kept, "
            "unfinished ones resume, changed ones start over.",
        ),
        address: Optional[str] = typer.Option(
            None,
            "--address",
            help="Ray cluster to run on: 'auto' (the one `ray start` runs on this machine), "
            "HOST:6379, or ray://HOST:10001. Default: start Ray here with this machine's cores.",
        ),
        cpus: Optional[int] = typer.Option(None, "--cpus", help="Cores Ray may use on this machine (no --address)."),
        cpus_per_scene: float = typer.Option(
            1.0,
            "--cpus-per-scene",
            help="Cores each scene's task reserves (torch threads); scenes run side by side as cores allow.",
        ),
        gpus_per_scene: float = typer.Option(
            0.0, "--gpus-per-scene", help="GPUs each scene reserves (0: fit on the CPU; 0.5: two scenes share a GPU)."
        ),
        retries: int = typer.Option(
            2, "--retries", help="Times a scene whose worker died is started again (it resumes from its checkpoint)."
        ),
        preset: Optional[str] = typer.Option(None, "--preset", help="Preset of every scene ('fast', 'paper')."),
        iters: Optional[int] = typer.Option(None, "--iters", help="Iterations of every scene."),
        minutes: Optional[float] = typer.Option(None, "--minutes", help="Fitting budget of every scene, minutes."),
        holdout: Optional[int] = typer.Option(None, "--holdout", help="Hold every K-th view out and score on them."),
        downscale: Optional[float] = typer.Option(None, "--downscale", help="Divide every scene's image size by this."),
        max_size: Optional[int] = typer.Option(None, "--max-size", help="Longer image side at most this many pixels."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed of every scene."),
        fmt: str = typer.Option("ply", "--format", help="Mesh format: ply, obj or glb."),
        resolution: int = typer.Option(256, "--resolution", help="Mesh extraction resolution."),
    ) -> None:
        """Fit many scenes: calibrate (when a scene has no cameras) -> fit -> export -> eval, one Ray task each.

        A manifest entry's own keys override these options. A scene that fails is reported with its reason and
        the others go on (exit code 1 when any failed).
        """
        from ..batch import Cluster, ExportOptions, read_scenes, run_batch
        from ..errors import DvrError
        from ..mesh.writers import FORMATS

        if fmt not in FORMATS:
            raise DvrError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")
        defaults = {
            k: v
            for k, v in dict(
                preset=preset,
                iters=iters,
                minutes=minutes,
                holdout=holdout,
                downscale=downscale,
                max_size=max_size,
                seed=seed,
            ).items()
            if v is not None
        }
        specs = read_scenes(scenes, defaults, exclude=out)
        cluster = Cluster(address, cpus, cpus_per_scene, gpus_per_scene, retries)
        console = Console()
        console.print(
            f"{len(specs)} scene(s) -> [bold]{escape(str(out))}[/] on "
            + (f"the Ray cluster at {address}" if address else "this machine (Ray started here)")
        )
        with Live(batch_table([], out), console=console, refresh_per_second=2) as live:
            report = run_batch(
                specs,
                out,
                cluster,
                ExportOptions(fmt, resolution),
                on_update=lambda rows: live.update(batch_table(rows, out)),
            )
        for failed in report.failed:
            console.print(f"[red]failed[/] {failed.name}: {escape(failed.error)}", highlight=False, soft_wrap=True)
        console.print(
            f"{len(report.results) - len(report.failed)} done, {len(report.failed)} failed in "
            f"{report.seconds:.0f} s: [bold]{escape(report.files['json'])}[/], "
            f"[bold]{escape(report.files['csv'])}[/]"
        )
        if report.failed:
            raise typer.Exit(1)
