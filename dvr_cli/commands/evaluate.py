"""`dvr eval`: geometry against a GT mesh, renders against held-out or given test views."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _fmt(value: float, unit: str = "") -> str:
    return "inf" if value == math.inf else "-" if math.isnan(value) else f"{value:.4g}{unit}"


def result_tables(result: dict) -> list[Table]:
    """Rich tables of an evaluate_run result (geometry, then per-view image metrics)."""
    tables = []
    if "geometry" in result:
        g = result["geometry"]
        table = Table(title=f"geometry vs {escape(Path(g['gt_mesh']).name)} (world units, % of GT diagonal)")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("% diag", justify="right")
        for key, label in (
            ("accuracy", "accuracy (pred->GT)"),
            ("completeness", "completeness (GT->pred)"),
            ("chamfer_l1", "Chamfer-L1"),
            ("threshold", "F-score threshold"),
        ):
            table.add_row(label, _fmt(g[key]), _fmt(g[f"{key}_pct"], "%"))
        table.add_row("F-score", _fmt(g["fscore"]), "")
        tables.append(table)
    for key in ("images", "mesh"):
        if key not in result:
            continue
        im = result[key]
        title = (
            f"images of the field ({len(im['views'])} views: {result['images']['source']})"
            if key == "images"
            else f"exported mesh {escape(Path(im['file']).name)}, ray cast from the same views"
        )
        table = Table(title=title, min_width=len(title))  # a title wider than the columns is not wrapped
        metrics = list(im["mean"])
        table.add_column("view")
        for m in metrics:
            table.add_column(m, justify="right")
        for v in im["views"]:
            table.add_row(escape(v["name"]), *(_fmt(v.get(m, math.nan)) for m in metrics))
        table.add_row("[bold]mean[/]", *(f"[bold]{_fmt(im['mean'][m])}[/]" for m in metrics))
        tables.append(table)
    return tables


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def evaluate(
        run: Optional[Path] = typer.Argument(None, help="Run folder written by `dvr fit` (default: runs/latest)."),
        gt_mesh: Optional[Path] = typer.Option(
            None, "--gt-mesh", help="Ground-truth mesh in world units (Chamfer-L1, accuracy, completeness, F-score)."
        ),
        test_cameras: Optional[Path] = typer.Option(
            None,
            "--test-cameras",
            help="Camera file of test views (their images are those it names). Default: the run's held-out views.",
        ),
        json_path: Optional[Path] = typer.Option(
            None, "--json", help="Write the metrics here (default RUN/eval.json)."
        ),
        resolution: int = typer.Option(256, "--resolution", help="Mesh extraction resolution for geometry metrics."),
        points: int = typer.Option(100_000, "--points", help="Points sampled on each surface."),
        samples: Optional[int] = typer.Option(
            None, "--samples", "--steps", help="Ray-marching samples (default: the run's render_samples)."
        ),
        mesh: Optional[Path] = typer.Option(
            None,
            "--mesh",
            help="Exported mesh to score on the same views (default: the newest .obj/.glb/.ply in RUN/export, if any).",
        ),
        keep_surroundings: bool = typer.Option(
            False,
            "--keep-surroundings",
            help="A run fitted without masks: score the silhouette of the whole region (default: the object's).",
        ),
        device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:i]."),
    ) -> None:
        """Measure a fitted run: mesh distances to a GT mesh, PSNR / SSIM / IoU on test views, for the
        field's renders and for the exported textured mesh."""
        from ..errors import DvrError
        from ..evaluate.mesh_render import latest_export
        from ..evaluate.report import evaluate_run
        from ..run import load_run

        if points < 100:
            raise DvrError(f"--points must be at least 100 (got {points})")
        console = Console()
        loaded = load_run(run, device=device)
        with console.status("evaluating ...") as status:
            result = evaluate_run(
                loaded,
                gt_mesh,
                test_cameras,
                json_path,
                resolution,
                points,
                samples,
                log=lambda line: console.print(line, highlight=False, markup=False),
                on_view=lambda done, total: status.update(f"rendering view {done}/{total} ..."),
                mesh=mesh or latest_export(loaded.run_dir),
                keep_surroundings=keep_surroundings,
            )
        for table in result_tables(result):
            console.print(table)
        console.print(f"metrics: [bold]{escape(result['json'])}[/]")
