"""DTU / IDR / NeuS ``cameras.npz``: ``world_mat_i`` = K [R | t] and optional ``scale_mat_i``."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import cv2
import numpy as np

from ...errors import DvrError
from ..camera import Camera
from ..image_paths import image_size, images_folder, list_images
from ..types import Normalization
from .camera_set import CameraSet


def decompose_projection(P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(3, 4) projection P ~ K [R | t] -> (K (3,3) with K[2,2] = 1, fx, fy > 0; R (3,3) det +1; t (3,)).

    P is defined up to scale, so it is first scaled to det(P[:, :3]) > 0; then flipping the signs
    of matching columns of K and rows of R makes the diagonal of K positive without changing KR,
    which leaves det R = +1 and points in front of the camera at positive depth.
    """
    P = np.asarray(P, dtype=np.float64)
    if np.linalg.det(P[:, :3]) < 0:
        P = -P
    K, R, center_h = cv2.decomposeProjectionMatrix(P)[:3]
    signs = np.diag(np.sign(np.diag(K)))
    K, R = K @ signs, signs @ R
    K = K / K[2, 2]
    center = center_h[:3, 0] / center_h[3, 0]
    return K, R, -R @ center


def _indices(keys, prefix: str) -> list[int]:
    pattern = re.compile(rf"^{prefix}_(\d+)$")
    return sorted(int(m.group(1)) for m in map(pattern.match, keys) if m)


def read_dtu(path: Path, images_dir: Path) -> CameraSet:
    """Read ``world_mat_i`` (and ``scale_mat_i``) for i = 0, 1, ... from an npz file.

    Args:
        images_dir: the photos' folder (or its parent, see :func:`images_folder`); camera i
            belongs to its i-th image in natural order (DTU matches views by order: the npz
            names no files). Their headers give each camera's image size.
    """
    try:
        data = dict(np.load(path))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DvrError(f"not a readable .npz file ({exc})", path) from None
    indices = _indices(data, "world_mat")
    if not indices:
        raise DvrError("no 'world_mat_<i>' arrays (expected DTU/IDR/NeuS cameras.npz)", path)
    if indices != list(range(len(indices))):
        raise DvrError(f"world_mat indices are not 0..{len(indices) - 1}", path)
    images = list_images(images_folder(images_dir))
    if len(images) != len(indices):
        raise DvrError(
            f"holds {len(indices)} cameras but {len(images)} images were found (DTU matches them by order)", path
        )
    cameras = []
    for i, image in zip(indices, images):
        P = np.asarray(data[f"world_mat_{i}"], dtype=np.float64)
        if P.shape not in ((3, 4), (4, 4)) or not np.all(np.isfinite(P)):
            raise DvrError(f"world_mat_{i} must be a finite 3x4 or 4x4 matrix (got shape {P.shape})", path)
        if abs(np.linalg.det(P[:3, :3])) < 1e-12 * np.abs(P[:3, :3]).max() ** 3:
            raise DvrError(f"world_mat_{i} is singular", path)
        K, R, t = decompose_projection(P[:3])
        width, height = image_size(image)
        cameras.append(Camera(K, R, t, width, height, name=image.name).validate(path))
    return CameraSet(
        cameras=cameras,
        images=images,
        masks=[None] * len(cameras),
        format="dtu",
        path=Path(path),
        normalization=_scale_normalization(data, path),
    )


def _scale_normalization(data: dict, path: Path) -> Normalization | None:
    """The unit sphere -> world map of ``scale_mat_0`` (IDR uses one for all views)."""
    if "scale_mat_0" not in data:
        return None
    S = np.asarray(data["scale_mat_0"], dtype=np.float64)
    if S.shape != (4, 4) or not np.all(np.isfinite(S)) or S[0, 0] <= 0:
        raise DvrError("scale_mat_0 must be a finite 4x4 similarity with positive scale", path)
    return Normalization(S[:3, 3], S[0, 0], "scale_mat")
