"""``write_scene``: the calibrated scene folder (images/, masks/, cams.json with normalisation)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import DvrError
from ..files import write_text_atomic
from ..image_files import write_mask, write_rgb
from ..ownership import staged_folder
from .types import Scene

CAMS_FILE = "cams.json"


def _output_names(scene: Scene) -> list[str]:
    """'<stem>.png' per view; DvrError when two views would share a file."""
    names = [Path(v.name or f"view_{i:04d}").stem + ".png" for i, v in enumerate(scene.views)]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise DvrError(
            f"two views would both be written as '{duplicate}' (image names must differ by more than extension)"
        )
    return names


def _dumps(document: dict) -> str:
    """JSON with one camera per line: readable and diff-friendly for hundreds of views."""
    cameras = ",\n  ".join(json.dumps(c) for c in document["cameras"])
    rest = ",\n ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in document.items() if k != "cameras")
    return f'{{\n "cameras": [\n  {cameras}\n ],\n {rest}\n}}\n'


def scene_inputs(scene: Scene) -> list[Path]:
    """The files and folders ``scene`` was read from (camera file, photo and mask folders): what an
    output may not be, hold or lie inside."""
    args = scene.meta.get("load_args") or {}
    paths = {
        scene.meta.get("cameras_file"),
        scene.meta.get("images_dir"),
        *(args.get(k) for k in ("images", "cameras", "masks", "depth")),
    }
    paths |= {str(Path(v.image_path).parent) for v in scene.views if v.image_path and Path(v.image_path).is_file()}
    return [Path(p) for p in sorted(p for p in paths if p)]


def write_scene_files(scene: Scene, folder: Path) -> None:
    """Write ``scene``'s images/, masks/ and cams.json into the (new, empty) ``folder``."""
    folder = Path(folder)
    names = _output_names(scene)
    (folder / "images").mkdir()
    if any(v.mask is not None for v in scene.views):
        (folder / "masks").mkdir()
    entries = []
    for view, name in zip(scene.views, names):
        write_rgb(folder / "images" / name, view.image)
        mask = None
        if view.mask is not None:
            mask = f"masks/{name}"
            write_mask(folder / mask, view.mask)
        entries.append(view.camera.undistorted().to_json(f"images/{name}", mask))
    bbox = scene.meta.get("bbox", scene.normalization.bbox)
    document = {
        "convention": "opencv",
        "cameras": entries,
        "normalization": scene.normalization.to_json(),
        "bbox": np.asarray(bbox, dtype=np.float64).tolist(),
        "source": {k: scene.meta[k] for k in ("format", "cameras_file", "images_dir", "masks") if k in scene.meta},
    }
    write_text_atomic(folder / CAMS_FILE, _dumps(document))


@contextmanager
def scene_folder(out_dir: str | Path, inputs: list[Path]) -> Iterator[Path]:
    """A new scene folder to fill, swapped in for ``out_dir`` when the block succeeds (see
    ``ownership.staged_folder``: ``out_dir`` must be absent, empty or an earlier dvr scene, and no
    input); an OSError while writing becomes a one-line DvrError."""
    out_dir = Path(out_dir)
    try:
        with staged_folder(out_dir, "scene", inputs) as folder:
            yield folder
    except OSError as exc:
        raise DvrError(f"cannot write the scene ({exc.strerror or exc})", exc.filename or out_dir) from None


def write_scene(scene: Scene, out_dir: str | Path) -> Path:
    """Write ``scene`` as a calibrated scene folder and return its path.

    Layout: ``images/NAME.png``, ``masks/NAME.png`` (when the view has a mask) and
    ``cams.json`` (dvr format, world units, no distortion, plus ``normalization`` and
    ``bbox``), with dvr's ``.dvr-owned`` marker. Everything is written to a new folder beside
    ``OUT`` and swapped in at the end, so a failure never leaves a half-written ``OUT`` and keeps
    an earlier scene there; DvrError (nothing written) when ``OUT`` is not dvr's to replace.
    """
    with scene_folder(out_dir, scene_inputs(scene)) as folder:
        write_scene_files(scene, folder)
    return Path(out_dir)
