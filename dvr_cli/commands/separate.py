"""`dvr separate`: the object of a run fitted without masks, apart from its table, floor and wall."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

#: RUN/<this>: the object's masks of every photo (`dvr separate --masks`) and their masks.json.
MASKS_DIR = "object_masks"


def register(app: typer.Typer) -> None:
    @app.command("separate")
    def separate(
        run: Optional[Path] = typer.Argument(None, help="Run folder written by `dvr fit` (default: runs/latest)."),
        masks: bool = typer.Option(
            False,
            "--masks",
            help="Also write every photo's mask (the object's rendered "
            "silhouette) into RUN/object_masks/, with masks.json (confidence per photo).",
        ),
        device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:i]."),
    ) -> None:
        """Find the table, floor or wall of a run fitted without masks and write the object's region
        (RUN/object.npz), which `dvr export`, `dvr render` and `dvr eval` then use."""
        from ..calib.automask import write_confidence, write_masks
        from ..errors import DvrError
        from ..mesh.separate import OBJECT_FILE, fitted_without_masks, object_masks, object_region
        from ..run import load_run
        from .console import warner

        console = Console()
        loaded = load_run(run, device=device)
        if not fitted_without_masks(loaded):
            raise DvrError("the run was fitted with masks: its region is the object's already", loaded.run_dir)
        with console.status("separating the object ..."):
            region = object_region(loaded, warner(console, "note"))
        if region is None:
            return
        console.print(
            f"object region: [bold]{escape(str(loaded.run_dir / OBJECT_FILE))}[/] "
            f"({len(region.planes)} support plane(s) removed)"
        )
        if masks:
            with console.status("rendering the object's masks ..."):
                found, confidence = object_masks(loaded, region, loaded.cameras)
            folder = loaded.run_dir / MASKS_DIR
            names = [c.name or f"{k:04d}.png" for k, c in enumerate(loaded.cameras)]
            write_masks(found, names, folder)
            write_confidence(folder, names, confidence, method="separated")
            console.print(
                f"{len(found)} masks (confidence {confidence.min():.2f}-{confidence.max():.2f}) -> "
                f"[bold]{escape(str(folder))}[/]"
            )
