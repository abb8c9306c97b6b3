"""`dvr calibrate`: photos + a camera file -> a calibrated scene folder (undistorted, resized, normalised)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..errors import DvrError


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        images: Path = typer.Argument(
            ...,
            metavar="IMAGES",
            help="Folder of photos (or a dataset folder holding images/ or image/, or the camera file's folder).",
        ),
        cameras: Optional[Path] = typer.Option(
            None,
            "--cameras",
            "-c",
            help="Camera file: dvr cams.json, nerfstudio/NeRF transforms.json, DTU/IDR cameras.npz, "
            "or a COLMAP sparse model folder.",
        ),
        out: Path = typer.Option(
            ...,
            "--out",
            "-o",
            help="Scene folder to write (images/, masks/, cams.json); replaced if it is an earlier scene.",
        ),
        masks: Optional[Path] = typer.Option(
            None,
            "--masks",
            "-m",
            help="Folder of object masks (white = object), named like the photos or in the same order.",
        ),
        downscale: float = typer.Option(1.0, "--downscale", "-d", help="Divide the image size by this factor (>= 1)."),
        max_size: Optional[int] = typer.Option(
            None, "--max-size", help="Also shrink images so their longer side is at most this many pixels."
        ),
    ) -> None:
        """Check and convert a capture into dvr's calibrated scene folder.

        Reads the cameras (any supported format), undistorts and resizes the photos and masks, finds
        the normalisation (bbox, DTU scale_mat, mask visual hull or the cameras' common view) and
        writes OUT/images, OUT/masks and OUT/cams.json in world units.
        """
        from ..scene import load_scene, write_scene

        if cameras is None:
            raise DvrError("camera estimation from photos alone is not wired yet; pass --cameras FILE")
        console = Console(soft_wrap=True)  # paths stay on one line, whatever the terminal width
        with console.status("loading cameras, photos and masks"):
            scene = load_scene(images, cameras, masks, downscale, max_size)
        with console.status(f"writing {out}"):
            write_scene(scene, out)
        _summary(console, scene, out)


def _summary(console: Console, scene, out: Path) -> None:
    """What was written, in a few lines."""
    first = scene.views[0].camera
    norm = scene.normalization
    masks = sum(v.mask is not None for v in scene.views)
    console.print(f"[bold green]wrote[/] {out}: {len(scene)} views, {first.width}x{first.height} px, {masks} masks")
    console.print(f"  cameras   {scene.meta['format']} from {scene.meta['cameras_file']}")
    console.print(f"  masks     {scene.meta['masks']}")
    if scene.meta.get("undistorted"):
        console.print("  undistorted with the cameras' lens distortion")
    center = ", ".join(f"{c:.4g}" for c in norm.center)
    console.print(f"  normalisation from {norm.source}: centre ({center}), scale {norm.scale:.4g}")
