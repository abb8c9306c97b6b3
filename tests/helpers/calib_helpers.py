"""Readers of the example's ground truth for calibration tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from dvr_cli.scene.camera import Camera


def true_cameras(scene: Path) -> dict[str, Camera]:
    """The example's cams.json as {image file name: Camera} (read directly: the truth under test)."""
    entries = json.loads((scene / "cams.json").read_text())["cameras"]
    return {
        Path(e["image"]).name: Camera(e["K"], e["R"], e["t"], e["width"], e["height"], name=Path(e["image"]).name)
        for e in entries
    }


def read_views(scene: Path) -> tuple[list[Path], list[np.ndarray], list[np.ndarray]]:
    """Image paths, (H, W, 3) uint8 images and (H, W) bool true masks, in file order."""
    paths = sorted((scene / "images").glob("*.png"))
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    masks = [np.asarray(Image.open(scene / "masks" / p.name)) > 127 for p in paths]
    return paths, images, masks


def scene_radius(scene: Path) -> float:
    return json.loads((scene / "example.json").read_text())["bounding_sphere"]["radius"]
