"""``write_scene``: the calibrated scene folder (images/, masks/, cams.json with normalisation)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..errors import DvrError
from .images import write_png
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


def check_scene_target(out_dir: Path) -> None:
    """DvrError unless ``out_dir`` is absent, empty, or an earlier scene folder (safe to replace)."""
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / CAMS_FILE).is_file())):
        raise DvrError("exists and is not a dvr scene folder; refusing to overwrite it", out_dir)


def _replace(tmp: Path, out_dir: Path) -> None:
    """Move the finished ``tmp`` folder to ``out_dir``, replacing an earlier scene folder there."""
    if out_dir.exists():
        try:
            check_scene_target(out_dir)
        except DvrError:
            shutil.rmtree(tmp)
            raise
        old = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old)
    else:
        tmp.rename(out_dir)


def write_scene(scene: Scene, out_dir: str | Path) -> Path:
    """Write ``scene`` as a calibrated scene folder and return its path.

    Layout: ``images/NAME.png``, ``masks/NAME.png`` (when the view has a mask) and
    ``cams.json`` (dvr format, world units, no distortion, plus ``normalization`` and
    ``bbox``). Everything is written to ``OUT.tmp`` first and renamed at the end, so a
    failure never leaves a half-written ``OUT``; an earlier scene folder at ``OUT`` is replaced.
    """
    out_dir = Path(out_dir)
    names = _output_names(scene)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "images").mkdir(parents=True)
        if any(v.mask is not None for v in scene.views):
            (tmp / "masks").mkdir()
        entries = []
        for view, name in zip(scene.views, names):
            write_png(tmp / "images" / name, view.image)
            mask = None
            if view.mask is not None:
                mask = f"masks/{name}"
                write_png(tmp / mask, view.mask)
            entries.append(view.camera.undistorted().to_json(f"images/{name}", mask))
        bbox = scene.meta.get("bbox", scene.normalization.bbox)
        document = {
            "convention": "opencv",
            "cameras": entries,
            "normalization": scene.normalization.to_json(),
            "bbox": np.asarray(bbox, dtype=np.float64).tolist(),
            "source": {k: scene.meta[k] for k in ("format", "cameras_file", "images_dir", "masks") if k in scene.meta},
        }
        (tmp / CAMS_FILE).write_text(_dumps(document))
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DvrError(f"cannot write the scene ({exc.strerror})", exc.filename or out_dir) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _replace(tmp, out_dir)
    return out_dir
