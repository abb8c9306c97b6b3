"""`dvr view`: a scene, photos + cameras, or a fitted run in a 3D web viewer."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import DvrError

HOST_HELP = (
    "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every network interface, where anyone "
    "who reaches the port sees the photos and can pause or save a fit)."
)


def is_loopback(host: str) -> bool:
    """``host`` reaches this machine only (127.x, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_run_folder(path: Path) -> bool:
    """A `dvr fit` run folder holds config.json (a scene folder does not)."""
    from ..run import CONFIG

    return path.is_dir() and (path / CONFIG).is_file()


def print_address(console: Console, viewer) -> None:
    """The viewer's address, and the tunnel that reaches it from another machine; a warning when it
    listens beyond this machine."""
    if not is_loopback(viewer.host):
        console.print(
            f"[yellow]warning:[/] listening on {escape(viewer.host)}: anyone who reaches port {viewer.port} "
            "can see the photos and pause or save the fit (use --host 127.0.0.1 and the ssh tunnel below)",
            soft_wrap=True,
            highlight=False,
        )
    console.print(f"viewer: [bold]{escape(viewer.url)}[/]", soft_wrap=True)
    console.print(f"from another machine: {viewer.ssh_hint}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("view")
    def view(
        path: Path = typer.Argument(
            ..., help="A run folder (from `dvr fit`), a calibrated scene folder, or a folder of photos with --cameras."
        ),
        cameras: Optional[Path] = typer.Option(
            None, "--cameras", "-c", help="Camera file for a folder of photos (any format `dvr fit` reads)."
        ),
        masks: Optional[Path] = typer.Option(None, "--masks", "-m", help="Folder of object masks (for the overlay)."),
        port: int = typer.Option(8080, "--port", help="Port of the web viewer."),
        host: str = typer.Option("127.0.0.1", "--host", help=HOST_HELP),
        live: str = typer.Option(
            "rgb",
            "--live",
            help="Live render of a run shown first: rgb, depth, normal or off (the surface mesh instead).",
        ),
        size: int = typer.Option(256, "--size", help="Long side of the live render at rest, pixels."),
        device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:i]."),
    ) -> None:
        """Show cameras (with photos and masks), the region of interest, sparse points and, for a run,
        the surface and a live render from the browser's viewpoint. Ctrl-C stops it."""
        from ..viewer import LIVE_MODES, RenderSettings, Viewer, run_content, scene_content

        if live not in LIVE_MODES:
            raise DvrError(f"--live must be one of {', '.join(LIVE_MODES)} (got '{live}')")
        if size < 16:
            raise DvrError(f"--size must be at least 16 pixels (got {size})")
        console = Console()
        if is_run_folder(path):
            from ..run import load_run

            run = load_run(path, device=device)
            content = run_content(run)
            viewer = Viewer(
                host, port, RenderSettings.of_config(run.cfg, size), title=f"dvr: {run.run_dir.name}", live=live
            )
            model = run.model
        else:
            from ..scene import load_scene

            content = scene_content(load_scene(path, cameras=cameras, masks=masks))
            viewer = Viewer(host, port, title=f"dvr: {path.resolve().name}", live=None)
            model = None
        viewer.show(content)
        print_address(console, viewer)
        try:
            viewer.serve(model)
        except KeyboardInterrupt:
            pass
        finally:
            viewer.stop()
