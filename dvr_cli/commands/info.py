"""`dvr info`: what a scene, camera file or run folder holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import DvrError
from ..run import CONFIG

PIPE_WIDTH = 160


def _vec(values, digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}g}" for v in values) + ")"


def camera_table(cameras, masks=None, confidence: dict | None = None) -> Table:
    """One row per camera: name, size, intrinsics, centre, mask coverage (and the automatic
    masks' confidence, {image stem: value}, when given)."""
    table = Table(title="cameras", show_lines=False)
    columns = ["#", "name", "size", "fx", "fy", "cx", "cy", "centre (world)"] + ["mask conf"] * bool(confidence)
    for column in columns + ["mask %"]:
        table.add_column(column, justify="left" if column in ("name", "centre (world)") else "right", no_wrap=True)
    for i, camera in enumerate(cameras):
        mask = None if masks is None else masks[i]
        coverage = "-" if mask is None else f"{100.0 * float(np.mean(mask)):.1f}"
        fx, fy, cx, cy = camera.K[0, 0], camera.K[1, 1], camera.K[0, 2], camera.K[1, 2]
        table.add_row(
            str(i),
            escape(camera.name),
            f"{camera.width}x{camera.height}",
            f"{fx:.1f}",
            f"{fy:.1f}",
            f"{cx:.1f}",
            f"{cy:.1f}",
            _vec(camera.center),
            *([f"{confidence.get(Path(camera.name).stem, float('nan')):.2f}"] if confidence else []),
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
        console.print(f"[yellow]images not loaded[/] ({escape(str(exc))}); cameras only")
        console.print(camera_table(cameras))
        console.print(f"{len(cameras)} cameras, format {fmt}, from {escape(str(file))}")
        return
    from ..calib.automask import read_confidence

    confidence = read_confidence(path) if path.is_dir() else {}
    console.print(camera_table([v.camera for v in scene.views], [v.mask for v in scene.views], confidence))
    norm, meta = scene.normalization, scene.meta
    summary = Table.grid(padding=(0, 2))
    summary.add_row("views", str(len(scene)))
    summary.add_row("format", f"{meta['format']} ({escape(str(meta['cameras_file']))})")
    summary.add_row("images", escape(str(meta["images_dir"])))
    summary.add_row("masks", escape(str(meta["masks"])))
    summary.add_row("normalisation", f"{norm.source}: centre {_vec(norm.center)}, scale {norm.scale:.4g}")
    bbox = np.asarray(meta["bbox"])
    summary.add_row("object bbox", f"{_vec(bbox[0])} - {_vec(bbox[1])}  (size {_vec(bbox[1] - bbox[0])})")
    console.print(summary)


def _run_info(console: Console, run: Path) -> None:
    """The config and the scene record of a run folder (one-line errors for broken files)."""
    from ..config import FitConfig
    from ..run import CHECKPOINT, CONFIG, SCENE, SceneRecord

    config = FitConfig.load(run / CONFIG)
    table = Table(title=f"run {escape(str(run))}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key, value in config.flat().items():
        table.add_row(key, escape(json.dumps(value)))
    console.print(table)
    if not (run / SCENE).is_file():
        return
    record = SceneRecord.load(run / SCENE)
    norm = record.normalization
    summary = Table.grid(padding=(0, 2))
    summary.add_row("views", f"{len(record.cameras)} ({len(record.train)} train, {len(record.holdout)} held out)")
    summary.add_row("normalisation", f"{norm.source}: centre {_vec(norm.center)}, scale {norm.scale:.4g}")
    if record.source:
        summary.add_row("scene", escape(str(record.source)))
    checkpoint = run / CHECKPOINT
    summary.add_row("checkpoint", escape(str(checkpoint)) if checkpoint.is_file() else "none yet")
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
        if path.is_dir() and (path / CONFIG).is_file():
            _run_info(console, path)
        else:
            _scene_info(console, path)
