"""dvr's own ``cams.json`` (shared/FORMATS.md), also the camera file of a calibrated scene folder."""

from __future__ import annotations

from pathlib import Path

from ...errors import DvrError
from ...files import read_json
from ..camera import Camera
from ..types import Normalization
from .camera_set import CameraSet, as_matrix, parse_bbox


def parse_camera(entry: dict, index: int, source: Path) -> tuple[Camera, Path | None, Path | None]:
    """One ``cameras[i]`` entry -> (camera, image path, mask path), paths relative to ``source``."""
    who = f"cameras[{index}]"
    if not isinstance(entry, dict):
        raise DvrError(f"{who} is not an object", source)
    for key in ("image", "width", "height", "K", "R", "t"):
        if key not in entry:
            raise DvrError(f"{who} has no '{key}'", source)
    try:
        width, height = int(entry["width"]), int(entry["height"])
    except (TypeError, ValueError):
        raise DvrError(f"{who}: width/height are not integers", source) from None
    dist = entry.get("dist")
    camera = Camera(
        K=as_matrix(entry["K"], (3, 3), f"{who}.K", source),
        R=as_matrix(entry["R"], (3, 3), f"{who}.R", source),
        t=as_matrix(entry["t"], (3,), f"{who}.t", source),
        width=width,
        height=height,
        dist=None if dist is None else as_matrix(dist, (len(dist),), f"{who}.dist", source),
        name=Path(str(entry["image"])).name,
    ).validate(source)
    image = source.parent / str(entry["image"])
    mask = source.parent / str(entry["mask"]) if entry.get("mask") else None
    return camera, image, mask


def read_dvr(path: Path) -> CameraSet:
    """Read a dvr ``cams.json``; with a ``normalization`` key it is a calibrated scene."""
    data = read_json(path)
    entries = data.get("cameras")
    if not isinstance(entries, list) or not entries:
        raise DvrError("'cameras' must be a non-empty list", path)
    convention = data.get("convention", "opencv")
    if convention != "opencv":
        raise DvrError(f"convention '{convention}' is not supported (dvr's cams.json is 'opencv')", path)
    parsed = [parse_camera(entry, i, path) for i, entry in enumerate(entries)]
    normalization = None
    if "normalization" in data:
        try:
            normalization = Normalization.from_json(data["normalization"])
        except (KeyError, TypeError, ValueError):
            raise DvrError("'normalization' needs 'center' (3 numbers) and 'scale'", path) from None
        if normalization.scale <= 0:
            raise DvrError("normalization scale must be positive", path)
    return CameraSet(
        cameras=[c for c, _, _ in parsed],
        images=[i for _, i, _ in parsed],
        masks=[m for _, _, m in parsed],
        format="scene" if normalization is not None else "dvr",
        path=Path(path),
        normalization=normalization,
        bbox=parse_bbox(data["bbox"], path) if data.get("bbox") is not None else None,
    )
