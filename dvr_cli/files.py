"""Small file helpers written once: JSON read with a one-line error, atomic writes, float image -> PNG."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DvrError


def read_json(path: str | Path) -> dict:
    """A JSON object from ``path``, or a DvrError naming the file and the problem."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DvrError("no such file", path) from None
    except OSError as exc:
        raise DvrError(f"cannot read ({exc.strerror})", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DvrError(f"not valid JSON ({exc})", path) from None
    if not isinstance(data, dict):
        raise DvrError("expected a JSON object at the top level", path)
    return data


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write through a temp file in the same folder + os.replace, so readers never see half a file
    and a failed write (disk full, read-only folder) leaves the previous file in place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, data: dict) -> None:
    """``data`` as indented JSON, written atomically."""
    write_text_atomic(path, json.dumps(data, indent=2))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] (any shape) -> uint8 0..255, clipped and rounded to nearest."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Save an (H, W), (H, W, 3) or (H, W, 4) image as PNG: floats in [0, 1] (bool: 0 / 255) or uint8."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif image.dtype != np.uint8:
        image = to_uint8(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path
