"""Camera intrinsics (K and OpenCV distortion) from photos of a printed checkerboard.

The board's inner corners are found with ``cv2.findChessboardCorners``, refined to sub-pixel
accuracy and fed to ``cv2.calibrateCamera`` (Zhang's method). The result is stored as
``intrinsics.json``: {"K": 3x3, "dist": [k1, k2, p1, p2, k3], "width", "height", "rms"},
which ``estimate_cameras(..., intrinsics=...)`` uses to fix K and distortion during SfM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DvrError
from ..files import write_json
from ..scene.camera import Camera

# Fewer boards than this leave the 9 unknowns (4 of K, 5 of dist) poorly constrained.
MIN_BOARDS = 3


@dataclass
class Intrinsics:
    """Calibrated pinhole intrinsics.

    Attributes:
        K: (3, 3) OpenCV intrinsics (pixel centre at integer coordinates).
        dist: (5,) OpenCV distortion (k1, k2, p1, p2, k3).
        width, height: the image size they were calibrated for.
        rms: RMS reprojection error of the board corners in pixels.
        per_image: {image name: RMS reprojection error in pixels} for the boards used.
    """

    K: np.ndarray
    dist: np.ndarray
    width: int
    height: int
    rms: float
    per_image: dict

    def camera(self) -> Camera:
        """These intrinsics as a dvr Camera (identity pose), the form ``estimate_cameras`` takes."""
        return Camera(self.K, np.eye(3), np.zeros(3), self.width, self.height, dist=self.dist, name="intrinsics")

    def save(self, path: str | Path) -> Path:
        """Write ``intrinsics.json`` (see module docstring)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "K": self.K.tolist(),
            "dist": self.dist.tolist(),
            "width": self.width,
            "height": self.height,
            "rms": self.rms,
            "per_image": self.per_image,
        }
        write_json(path, data)
        return path


def load_intrinsics(path: str | Path) -> Intrinsics:
    """Read an ``intrinsics.json``; DvrError naming the file when it is malformed."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        K = np.asarray(data["K"], dtype=np.float64).reshape(3, 3)
        dist = np.zeros(5)
        given = np.asarray(data.get("dist", []), dtype=np.float64).ravel()[:5]
        dist[: given.size] = given
        width, height = int(data["width"]), int(data["height"])
    except FileNotFoundError:
        raise DvrError("intrinsics file not found", path) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DvrError(f"not a valid intrinsics.json (needs K, width, height; optional dist): {exc}", path) from None
    if K[0, 0] <= 0 or K[1, 1] <= 0 or width <= 0 or height <= 0:
        raise DvrError("intrinsics.json: focal lengths and image size must be positive", path)
    return Intrinsics(K, dist, width, height, float(data.get("rms", float("nan"))), data.get("per_image", {}))


def find_corners(gray: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    """(H, W) uint8 image -> (cols*rows, 2) float32 sub-pixel inner corners, or None if not found."""
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(gray, pattern, flags=flags)
    if not found:
        return None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria)
    return corners.reshape(-1, 2)


def calibrate_checkerboard(
    image_paths: list[Path], pattern: tuple[int, int] = (9, 6), square: float = 0.025, progress=None
) -> Intrinsics:
    """Calibrate K and distortion from photos of one checkerboard.

    Args:
        image_paths: photos of the board (same camera, same size, varied tilts).
        pattern: inner corners per row and per column (a 10x7-square board has (9, 6)).
        square: side of one square in world units (only scales the board poses, not K).
        progress: optional callable(done, total) called after each image.
    Returns:
        :class:`Intrinsics`; boards that were not detected are left out of ``per_image``.
    """
    cols, rows = pattern
    board = np.zeros((cols * rows, 3), np.float32)
    board[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square

    size = None
    names, image_points = [], []
    for i, path in enumerate(image_paths):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise DvrError("cannot read image", path)
        if size is None:
            size = gray.shape[::-1]
        elif gray.shape[::-1] != size:
            raise DvrError(f"image is {gray.shape[1]}x{gray.shape[0]}, the others are {size[0]}x{size[1]}", path)
        corners = find_corners(gray, pattern)
        if corners is not None:
            names.append(Path(path).name)
            image_points.append(corners)
        if progress is not None:
            progress(i + 1, len(image_paths))
    if len(image_points) < MIN_BOARDS:
        where = Path(image_paths[0]).parent if image_paths else None
        raise DvrError(
            f"checkerboard {cols}x{rows} (inner corners) found in {len(image_points)} of {len(image_paths)} images, "
            f"need {MIN_BOARDS}: check --pattern, keep the whole board in view and sharp",
            where,
        )
    object_points = [board] * len(image_points)
    rms, K, dist, rvecs, tvecs = cv2.calibrateCamera(object_points, image_points, size, None, None)
    per_image = {}
    for name, pts, rvec, tvec in zip(names, image_points, rvecs, tvecs):
        proj, _ = cv2.projectPoints(board, rvec, tvec, K, dist)
        per_image[name] = float(np.sqrt(((proj.reshape(-1, 2) - pts) ** 2).sum(1).mean()))
    return Intrinsics(K, dist.ravel()[:5].astype(np.float64), size[0], size[1], float(rms), per_image)
