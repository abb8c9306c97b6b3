"""Removing lens distortion: images resampled to the ideal pinhole with the same K."""

from __future__ import annotations

import cv2
import numpy as np

from .camera import Camera


def undistort_view(
    camera: Camera, image: np.ndarray, mask: np.ndarray | None
) -> tuple[Camera, np.ndarray, np.ndarray | None]:
    """Resample a distorted view so that ``camera.undistorted()`` (same K, no dist) describes it.

    Args:
        camera: camera with ``dist`` (k1, k2, p1, p2, k3); returned unchanged in K, R, t.
        image: (H, W, 3) float32; bilinear resampling, edges replicated.
        mask: (H, W) bool or None; resampled bilinearly then thresholded at 0.5, so the
            silhouette edge moves by less than a pixel; outside the raw image is background.
    """
    if camera.dist is None:
        return camera, image, mask
    size = (camera.width, camera.height)
    map_x, map_y = cv2.initUndistortRectifyMap(camera.K, camera.dist, None, camera.K, size, cv2.CV_32FC1)
    image = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if mask is not None:
        warped = cv2.remap(
            mask.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        mask = warped >= 0.5
    return camera.undistorted(), image, mask
