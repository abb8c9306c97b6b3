"""Small file helpers written once: JSON read with a one-line error, atomic writes, float image -> PNG."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DvrError
from .ownership import prepare_write


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of a new file under this process's umask (mkstemp's own are 0600).
FILE_MODE = 0o666 & ~_umask()


@contextmanager
def atomic_path(path: str | Path, fsync: bool = False, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a fresh temporary file name beside ``path`` to write; when the block ends without an
    exception it is renamed to ``path`` (after an fsync when ``fsync``), otherwise removed.

    Readers never see half a file, and a failed or interrupted write (disk full, Ctrl-C) leaves the
    previous file in place. The temporary name is unique (``mkstemp``) and ends in ``.tmp``, so it
    never replaces anyone's file and no reader mistakes it for a finished one (``suffix`` for a
    writer that picks the format from the name, e.g. '.tmp.mp4').

    Every file dvr writes goes through here (or :func:`append_text`): DvrError, nothing written,
    when a file dvr did not write is at ``path``; otherwise the name is recorded in the marker of
    the dvr folder it lies in before the write (``ownership.prepare_write``). ``path`` is written
    at its real place (its folder's symlinks followed).
    """
    path = prepare_write(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, FILE_MODE)
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
    finally:
        tmp.unlink(missing_ok=True)


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` to ``path`` (a log: metrics.jsonl, attempts.jsonl), checked and recorded as
    :func:`atomic_path` does."""
    with open(prepare_write(path), "a") as f:
        f.write(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """``data`` written through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """``text`` written through :func:`atomic_path`."""
    write_bytes_atomic(path, text.encode())


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
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return path


def read_trimesh(path: str | Path, **kwargs):
    """``trimesh.load(path, **kwargs)``, with a DvrError naming the file when it is broken
    (truncated, not a mesh, no vertices)."""
    import trimesh

    try:
        loaded = trimesh.load(path, **kwargs)
    except Exception as exc:  # noqa: BLE001 - trimesh raises many types for a broken file
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise DvrError(f"cannot read ({type(exc).__name__}: {first}); delete it or write it again", path) from None
    if not hasattr(loaded, "vertices") or len(loaded.vertices) == 0:
        raise DvrError("holds no points or vertices; delete it or write it again", path)
    return loaded
