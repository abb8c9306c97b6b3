"""`dvr render`: images of a fitted run from novel (orbit), training, held-out or given cameras."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..errors import DvrError
from ..evaluate.mesh_render import MESH_SUPERSAMPLE, MeshRenderer, latest_export, load_colored_mesh
from ..mesh.separate import cut_render, object_region
from ..ownership import claim_folder
from ..render.to_files import render_views
from ..run import RENDERS, Run, load_run
from ..scene import Camera, load_cameras
from ..scene.camera_paths import orbit_cameras
from .console import warner

VIEWS = ("novel", "train", "test")
SOURCES = ("field", "mesh")


def select_cameras(run: Run, view: str, frames: int, scale: float) -> list[Camera]:
    """World cameras for ``--view``: an orbit, the run's training or held-out views, or a camera file."""
    if view == "novel":
        train = [run.cameras[i] for i in run.train]
        base = train[0]
        return orbit_cameras(
            train, frames, round(base.width * scale), round(base.height * scale), center=run.normalization.center
        )
    if view in ("train", "test"):
        chosen = [run.cameras[i] for i in (run.train if view == "train" else run.holdout)]
        if not chosen:
            raise DvrError(
                f"--view {view}: the run has no {'held-out' if view == 'test' else 'training'} views "
                "(fit with --holdout K to keep some out)",
                run.run_dir,
            )
    else:
        path = Path(view)
        if not path.exists():
            raise DvrError(f"--view must be {', '.join(VIEWS)} or a camera file; no such file", path)
        chosen = [c.undistorted() for c in load_cameras(path)]
    return [c.resized(round(c.width * scale), round(c.height * scale)) if scale != 1 else c for c in chosen]


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render(
        run: Optional[Path] = typer.Argument(None, help="Run folder written by `dvr fit` (default: runs/latest)."),
        view: str = typer.Option(
            "novel",
            "--view",
            help="novel (orbit around the object), train, test (the run's "
            "held-out views) or a camera file of any supported format.",
        ),
        out: Optional[Path] = typer.Option(
            None, "--out", "-o", help="Output folder: new, empty or written by dvr (default: RUN/renders/<view>)."
        ),
        frames: int = typer.Option(60, "--frames", help="Frames of the novel-view orbit."),
        what: str = typer.Option("rgb", "--what", help="Comma-separated outputs: rgb, depth, normal, mask."),
        video: bool = typer.Option(False, "--video", help="Also write video.mp4 of the rgb frames."),
        scale: float = typer.Option(1.0, "--resolution-scale", help="Scale the image size by this factor."),
        transparent: bool = typer.Option(False, "--transparent", help="RGBA images, background transparent."),
        keep_surroundings: bool = typer.Option(
            False,
            "--keep-surroundings",
            help="A run fitted without masks: the "
            "mask (and --transparent) of the whole region (default: the object's).",
        ),
        samples: Optional[int] = typer.Option(
            None, "--samples", "--steps", help="Ray-marching samples (default: the run's render_samples)."
        ),
        source: str = typer.Option(
            "field",
            "--source",
            help="field (ray march the fitted fields) or mesh (ray cast "
            "the exported textured mesh, what the user takes home; no shading).",
        ),
        mesh: Optional[Path] = typer.Option(
            None, "--mesh", help="With --source mesh: the mesh file (default: the newest .obj/.glb/.ply in RUN/export)."
        ),
        device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:i]."),
    ) -> None:
        """Render images (and depth, normals, masks, a video) of a fitted run or of its exported mesh."""
        if not 0 < scale <= 8:
            raise DvrError(f"--resolution-scale must be in (0, 8] (got {scale})")
        if samples is not None and samples < 2:
            raise DvrError(f"--samples must be at least 2 (got {samples})")
        if source not in SOURCES:
            raise DvrError(f"--source must be one of {', '.join(SOURCES)} (got {source})")
        outputs = tuple(w.strip() for w in what.split(",") if w.strip())
        loaded = load_run(run, device=device)
        cameras = select_cameras(loaded, view, frames, scale)
        name = view if view in VIEWS else Path(view).stem
        if out is not None:  # a folder the user chose: new, empty or dvr's
            claim_folder(out, "renders")
        out_dir = out if out is not None else loaded.run_dir / RENDERS / (name if source == "field" else f"{name}_mesh")
        console = Console()
        region = None if keep_surroundings or source == "mesh" else object_region(loaded, warner(console, "note"))
        render_fn = lambda camera: cut_render(loaded, region, loaded.render(camera, samples), camera)  # noqa: E731
        if source == "mesh":
            mesh = mesh or latest_export(loaded.run_dir)
            if mesh is None:
                raise DvrError(
                    "--source mesh: no exported mesh in RUN/export (run `dvr export` first, or give --mesh)",
                    loaded.run_dir,
                )
            renderer = MeshRenderer(load_colored_mesh(mesh))
            render_fn = lambda camera: renderer.render(camera, supersample=MESH_SUPERSAMPLE)  # noqa: E731
        with Progress(
            TextColumn("rendering"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("render", total=len(cameras))
            files = render_views(
                render_fn,
                cameras,
                out_dir,
                outputs,
                transparent,
                video,
                on_frame=lambda done, total: progress.update(task, completed=done),
            )
        console.print(
            f"{len(cameras)} views ({cameras[0].width}x{cameras[0].height}), {len(files)} files -> "
            f"[bold]{escape(str(out_dir))}[/]"
        )
