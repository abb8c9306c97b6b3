"""Depth maps for the optional depth loss: camera-z depth in world units, 0 = unknown.

Files are matched to images by stem in a depth folder: ``.npy`` / ``.exr`` hold float depth in
world units; 16-bit ``.png`` holds integers, ``depth_scale`` per world unit (1000: millimetres
for a metre world, the common convention of RGB-D sensors).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from ..errors import DvrError

DEPTH_EXTS = (".npy", ".exr", ".png")
OPENEXR_SWITCH = "OPENCV_IO_ENABLE_OPENEXR"


@contextmanager
def _openexr_enabled() -> Iterator[None]:
    """OpenCV decodes EXR only when OPENCV_IO_ENABLE_OPENEXR is set, a security default (its EXR
    decoder has had exploitable bugs, and cv2 picks the decoder from a file's content, whatever its
    name): set it for one .exr depth read, then put back what was there."""
    before = os.environ.get(OPENEXR_SWITCH)
    os.environ[OPENEXR_SWITCH] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OPENEXR_SWITCH, None)
        else:
            os.environ[OPENEXR_SWITCH] = before


def find_depth(folder: Path, image_name: str) -> Path | None:
    """The depth file of image ``image_name`` in ``folder`` (same stem), or None."""
    stem = Path(image_name).stem
    for ext in DEPTH_EXTS:
        candidate = folder / f"{stem}{ext}"
        if candidate.is_file():
            return candidate
    return None


def read_depth(path: Path, depth_scale: float = 1000.0) -> np.ndarray:
    """(H, W) float32 depth in world units from ``path``; non-finite or negative values become 0."""
    path = Path(path)
    if path.suffix == ".npy":
        try:
            depth = np.load(path)
        except (OSError, ValueError) as exc:
            raise DvrError(f"cannot read depth map ({exc})", path) from None
    else:
        import cv2

        with _openexr_enabled() if path.suffix.lower() == ".exr" else nullcontext():
            depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if depth is None:
            hint = " (this OpenCV may lack OpenEXR: save the depth as .npy)" if path.suffix.lower() == ".exr" else ""
            raise DvrError(f"cannot decode depth map{hint}", path)
        if depth.ndim == 3:
            depth = depth[..., 0]
        if path.suffix == ".png":
            if depth.dtype != np.uint16:
                raise DvrError(f"depth PNG must be 16-bit (got {depth.dtype})", path)
            depth = depth.astype(np.float32) / depth_scale
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise DvrError(f"depth map must be one channel (H, W), got shape {depth.shape}", path)
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def resize_depth(depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize: averaging would blend foreground and background depths."""
    import cv2

    return cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)
