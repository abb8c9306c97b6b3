"""nerfstudio / instant-ngp / NeRF ``transforms*.json``: camera-to-world matrices, OpenGL axes.

Conventions converted here, in one place:
- ``transform_matrix`` is camera-to-world with camera axes x right, y up, z backwards (OpenGL);
  OpenCV's y down, z forward are its y and z negated.
- Explicit ``cx``/``cy`` (nerfstudio, instant-ngp) put pixel centres at i + 0.5, so
  cx_opencv = cx - 0.5. Without them the principal point is the image centre.
- Original NeRF files give only ``camera_angle_x`` (horizontal field of view): fx = fy =
  (W / 2) / tan(angle / 2), principal point at the centre, cx = (W - 1) / 2; W, H come from the image.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ...errors import DvrError
from ...files import read_json
from ..camera import Camera
from ..image_paths import image_size, locate
from .camera_set import CameraSet, as_matrix

OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])
SUPPORTED_MODELS = ("PINHOLE", "OPENCV", "SIMPLE_PINHOLE")
DIST_KEYS = ("k1", "k2", "p1", "p2", "k3")


def _number(source: dict, key: str, default=None):
    value = source.get(key, default)
    return None if value is None else float(value)


def _frame_camera(frame: dict, glob: dict, index: int, image: Path | None, path: Path) -> Camera:
    """One frame's camera; per-frame intrinsics override the file's global ones."""
    who = f"frames[{index}]"
    merged = {**glob, **frame}
    model = str(merged.get("camera_model", "OPENCV")).upper()
    if model not in SUPPORTED_MODELS:
        raise DvrError(f"{who}: camera_model '{model}' is not supported (only pinhole/OpenCV)", path)
    try:
        width, height = merged.get("w"), merged.get("h")
        if width is None or height is None:
            if image is None:
                raise DvrError(f"{who}: no 'w'/'h' and the image '{frame.get('file_path')}' was not found", path)
            width, height = image_size(image)
        width, height = int(width), int(height)
        if "fl_x" in merged or "fl_y" in merged:
            fx = _number(merged, "fl_x", merged.get("fl_y"))
            fy = _number(merged, "fl_y", fx)
            cx = _number(merged, "cx", width / 2) - 0.5
            cy = _number(merged, "cy", height / 2) - 0.5
        elif "camera_angle_x" in merged:
            fx = 0.5 * width / math.tan(0.5 * float(merged["camera_angle_x"]))
            fy = 0.5 * height / math.tan(0.5 * float(merged["camera_angle_y"])) if "camera_angle_y" in merged else fx
            cx, cy = (width - 1) / 2, (height - 1) / 2
        else:
            raise DvrError(f"{who}: no intrinsics (need fl_x/fl_y or camera_angle_x)", path)
        dist = [_number(merged, key, 0.0) for key in DIST_KEYS]
    except (TypeError, ValueError):
        raise DvrError(f"{who}: intrinsics are not numbers", path) from None
    if "transform_matrix" not in frame:
        raise DvrError(f"{who} has no 'transform_matrix'", path)
    matrix = frame["transform_matrix"]  # 4x4 or its top 3x4
    c2w = as_matrix(matrix[:3] if isinstance(matrix, list) else matrix, (3, 4), f"{who}.transform_matrix", path)
    R = (c2w[:3, :3] @ OPENGL_TO_OPENCV).T  # camera-to-world rotation, transposed
    name = image.name if image is not None else Path(str(frame.get("file_path", ""))).name
    camera = Camera([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], R, -R @ c2w[:3, 3], width, height, dist, name)
    return camera.validate(path)


def read_transforms(path: Path, images_dir: Path | None = None) -> CameraSet:
    """Read a ``transforms*.json``; image paths are relative to the file (or found in ``images_dir``)."""
    data = read_json(path)
    frames = data.get("frames")
    if not isinstance(frames, list) or not frames:
        raise DvrError("'frames' must be a non-empty list", path)
    glob = {k: v for k, v in data.items() if k != "frames"}
    cameras, images, masks = [], [], []
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict) or "file_path" not in frame:
            raise DvrError(f"frames[{i}] has no 'file_path'", path)
        nominal = path.parent / str(frame["file_path"])
        image = locate(nominal, images_dir)
        cameras.append(_frame_camera(frame, glob, i, image, path))
        images.append(image if image is not None else nominal)
        masks.append(path.parent / str(frame["mask_path"]) if frame.get("mask_path") else None)
    return CameraSet(cameras, images, masks, "transforms", Path(path))
