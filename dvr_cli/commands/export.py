"""`dvr export`: a fitted run -> textured mesh (PLY / OBJ / GLB) in world units."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        run: Optional[Path] = typer.Argument(None, help="Run folder written by `dvr fit` (default: runs/latest)."),
        fmt: str = typer.Option("ply", "--format", "-f", help="ply (vertex colours), obj (+ mtl + png) or glb."),
        resolution: Optional[int] = typer.Option(
            None,
            "--resolution",
            "-r",
            help="Marching-cubes grid cells per "
            "axis (extracted hierarchically: only cells near the surface are "
            "evaluated). Default: one cell per training-photo pixel at the "
            "object, from the cameras.",
        ),
        out: Optional[Path] = typer.Option(
            None,
            "--out",
            "-o",
            help="Mesh file (default: RUN/export/mesh.<format>); "
            "an existing file only if dvr wrote it (in a dvr folder).",
        ),
        texture: Optional[str] = typer.Option(
            None,
            "--texture",
            help="vertex (colour per vertex) or atlas "
            "(UV-unwrapped texture image). Default: vertex for ply, atlas otherwise.",
        ),
        colors: str = typer.Option(
            "photos",
            "--colors",
            help="photos (the colours that, rendered as the mesh "
            "is shown, best reproduce the run's training photos: their blend, then fitted "
            "with per-photo exposure and robust weights), blend (the blend alone) or field "
            "(the texture field only). The texture field colours what no photo sees, and "
            "everything when the photos cannot be read.",
        ),
        simplify: Optional[int] = typer.Option(
            None, "--simplify", help="Decimate to about this many faces (default: no decimation)."
        ),
        texture_size: int = typer.Option(2048, "--texture-size", help="Atlas texture side in pixels."),
        keep_surroundings: bool = typer.Option(
            False,
            "--keep-surroundings",
            help="A run fitted without masks: keep the table, wall and backdrop (default: the object only).",
        ),
        device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:i]."),
    ) -> None:
        """Extract the fitted surface, colour it from the photos or the texture field and write a mesh."""
        from ..errors import DvrError
        from ..mesh.export import export_mesh
        from ..run import load_run

        if resolution is not None and resolution < 8:
            raise DvrError(f"--resolution must be at least 8 (got {resolution})")
        if texture_size < 16:
            raise DvrError(f"--texture-size must be at least 16 pixels (got {texture_size})")
        console = Console()
        loaded = load_run(run, device=device)
        with console.status("extracting the surface ..."):
            path = export_mesh(
                loaded,
                fmt.lower(),
                resolution,
                out,
                texture,
                simplify,
                texture_size,
                log=lambda line: console.print(line, highlight=False, markup=False),
                colors=colors.lower(),
                keep_surroundings=keep_surroundings,
            )
        console.print(f"mesh: [bold]{escape(str(path))}[/]")
