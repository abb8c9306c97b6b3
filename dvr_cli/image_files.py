"""Writing rendered images, each atomically: 8-bit colour and mask PNGs, 16-bit depth PNG + .npy, MP4 video."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from .errors import DvrError
from .files import atomic_path, to_uint8, write_bytes_atomic

#: 16-bit depth PNGs store world depth * DEPTH_PNG_SCALE (millimetres for metre scenes).
DEPTH_PNG_SCALE = 1000.0


def _imwrite(path: Path, data: np.ndarray) -> None:
    """Encode by ``path``'s extension and write atomically (an interrupted render leaves no half image)."""
    ok, encoded = cv2.imencode(Path(path).suffix, data)
    if not ok:
        raise DvrError("cannot encode image", path)
    write_bytes_atomic(path, encoded.tobytes())


def write_rgb(path: Path, rgb: np.ndarray, mask: np.ndarray | None = None) -> None:
    """8-bit PNG of (H, W, 3) RGB in [0, 1]; with ``mask`` (H, W) bool, RGBA with alpha = mask."""
    bgr = to_uint8(rgb)[..., ::-1]
    if mask is not None:
        bgr = np.dstack([bgr, mask.astype(np.uint8) * 255])
    _imwrite(path, bgr)


def write_depth(path: Path, z: np.ndarray) -> Path:
    """Depth (H, W) world units: 16-bit PNG of z * 1000 (clipped; 0 = no surface) + raw ``.npy``.

    Returns the ``.npy`` path (same stem as ``path``).
    """
    _imwrite(path, np.clip(np.round(z * DEPTH_PNG_SCALE), 0, 65535).astype(np.uint16))
    npy = Path(path).with_suffix(".npy")
    with atomic_path(npy) as tmp, open(tmp, "wb") as f:
        np.save(f, z.astype(np.float32))
    return npy


def write_normal(path: Path, normal: np.ndarray, mask: np.ndarray) -> None:
    """World-space unit normals (H, W, 3) as colour (n + 1) / 2; black where ``mask`` is False."""
    write_rgb(path, np.where(mask[..., None], (normal + 1.0) / 2.0, 0.0))


def write_mask(path: Path, mask: np.ndarray) -> None:
    """(H, W) bool -> 8-bit PNG, white = object."""
    _imwrite(path, mask.astype(np.uint8) * 255)


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 24.0) -> None:
    """MP4 (codec 'mp4v') of (H, W, 3) uint8 RGB frames, all the same size, written atomically."""
    writer = None
    with atomic_path(path, suffix=".tmp.mp4") as tmp:
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                    if not writer.isOpened():
                        raise DvrError("cannot open an mp4v video writer", path)
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
        finally:
            if writer is not None:
                writer.release()
