"""`dvr info`: what a scene, camera file or run folder holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ..errors import DvrError

PIPE_WIDTH = 160


def _vec(values, digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}g}" for v in values) + ")"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DvrError(f"cannot read ({exc})", path) from None


def camera_table(cameras, masks=None) -> Table:
    """One row per camera: name, size, intrinsics, centre, mask coverage."""
    table = Table(title="cameras", show_lines=False)
    for column in ("#", "name", "size", "fx", "fy", "cx", "cy", "centre (world)", "mask %"):
        table.add_column(column, justify="left" if column in ("name", "centre (world)") else "right", no_wrap=True)
    for i, camera in enumerate(cameras):
        mask = None if masks is None else masks[i]
        coverage = "-" if mask is None else f"{100.0 * float(np.mean(mask)):.1f}"
        fx, fy, cx, cy = camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2]
        table.add_row(
            str(i),
            camera.name,
            f"{camera.width}x{camera.height}",
            f"{fx:.1f}",
            f"{fy:.1f}",
            f"{cx:.1f}",
            f"{cy:.1f}",
            _vec(camera.center),
            coverage,
        )
    return table


def _scene_info(console: Console, path: Path) -> None:
    """Load the scene (images included, for mask coverage); cameras only when images are missing."""
    from ..scene import load_cameras, load_scene
    from ..scene.formats import detect_format

    try:
        scene = load_scene(path)
    except DvrError as exc:
        fmt, file = detect_format(path)
        cameras = load_cameras(file)
        console.print(f"[yellow]images not loaded[/] ({exc}); cameras only")
        console.print(camera_table(cameras))
        console.print(f"{len(cameras)} cameras, format {fmt}, from {file}")
        return
    console.print(camera_table([v.camera for v in scene.views], [v.mask for v in scene.views]))
    norm, meta = scene.normalization, scene.meta
    summary = Table.grid(padding=(0, 2))
    summary.add_row("views", str(len(scene)))
    summary.add_row("format", f"{meta['format']} ({meta['cameras_file']})")
    summary.add_row("images", meta["images_dir"])
    summary.add_row("masks", meta["masks"])
    summary.add_row("normalisation", f"{norm.source}: centre {_vec(norm.center)}, scale {norm.scale:.4g}")
    bbox = np.asarray(meta["bbox"])
    summary.add_row("object bbox", f"{_vec(bbox[0])} - {_vec(bbox[1])}  (size {_vec(bbox[1] - bbox[0])})")
    console.print(summary)


def _run_info(console: Console, run: Path) -> None:
    """Config and scene.json of a run folder; tolerant of keys a given version may lack."""
    config = _read_json(run / "config.json")
    table = Table(title=f"run {run}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key, value in config.items():
        table.add_row(key, json.dumps(value))
    console.print(table)
    scene_file = run / "scene.json"
    if not scene_file.is_file():
        return
    scene = _read_json(scene_file)
    summary = Table.grid(padding=(0, 2))
    cameras = scene.get("cameras") or []
    summary.add_row(
        "views", f"{len(cameras)} ({len(scene.get('train') or [])} train, {len(scene.get('holdout') or [])} held out)"
    )
    norm = scene.get("normalization") or {}
    if "center" in norm:
        summary.add_row(
            "normalisation",
            f"{norm.get('source', '?')}: centre {_vec(norm['center'])}, scale {norm.get('scale', float('nan')):.4g}",
        )
    if scene.get("source"):
        summary.add_row("scene", str(scene["source"]))
    checkpoint = run / "checkpoints" / "latest.pt"
    summary.add_row("checkpoint", str(checkpoint) if checkpoint.is_file() else "none yet")
    console.print(summary)


def register(app: typer.Typer) -> None:
    @app.command("info")
    def info(
        path: Path = typer.Argument(
            ...,
            metavar="SCENE-OR-RUN",
            help="A calibrated scene folder, a dataset folder or camera file, or a run folder.",
        ),
    ) -> None:
        """Show the cameras, masks and normalisation of a scene, or the config of a run."""
        console = Console(soft_wrap=True)
        if not console.is_terminal:  # piped into a file or a pager: no 80-column truncation
            console.width = PIPE_WIDTH
        if not path.exists():
            raise DvrError("does not exist", path)
        if path.is_dir() and (path / "config.json").is_file():
            _run_info(console, path)
        else:
            _scene_info(console, path)
