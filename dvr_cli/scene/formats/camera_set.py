"""What every camera-file reader returns, and the small parsing helpers they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DvrError
from ..types import Normalization


@dataclass
class CameraSet:
    """Cameras read from one file, in world units and the OpenCV convention.

    Attributes:
        cameras: one :class:`Camera` per view; ``camera.name`` is its image's file name.
        images: per camera, the image path the file names (resolved against the file's folder;
            the file may not exist there, then the images folder is searched), or None.
        masks: per camera, the mask path the file names, or None.
        format: 'dvr', 'scene' (a calibrated scene folder), 'dtu', 'transforms' or 'colmap'.
        path: the camera file (or COLMAP model folder).
        normalization: a normalisation the file carries (DTU scale_mat, a calibrated scene), or None.
        bbox: (2, 3) world-space region holding the object, when the file gives one.
    """

    cameras: list
    images: list
    masks: list
    format: str
    path: Path
    normalization: Normalization | None = None
    bbox: np.ndarray | None = None


def as_matrix(value, shape: tuple[int, ...], what: str, source: Path) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` or a DvrError naming ``what`` and ``source``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DvrError(f"{what} is not numeric", source) from None
    if array.shape != shape:
        raise DvrError(f"{what} has shape {array.shape}, expected {shape}", source)
    return array


def parse_bbox(value, source: Path) -> np.ndarray:
    """A (2, 3) [min, max] box; DvrError when malformed or empty."""
    box = as_matrix(value, (2, 3), "bbox", source)
    if not np.all(np.isfinite(box)) or np.any(box[1] <= box[0]):
        raise DvrError("bbox must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] with max > min", source)
    return box
