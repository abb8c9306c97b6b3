"""The visual hull of object masks: the one rule that decides which 3D points can be object.

Three callers use it: the normalisation (the object's box), the occupancy grid (the cells the
renderer may evaluate) and the automatic masks (multi-view consistency). The rule:

- A view votes on a point that projects inside its image, in front of it: the point is *outside*
  when its projection lies more than ``slack`` pixels from the view's mask, else *seen on the mask*.
- A point that projects outside a view's frame is unknown to that view, unless the view's mask
  touches none of the image borders: then the whole object is in the frame, and a point whose
  projection lies more than ``slack`` pixels beyond the frame is outside too. So an object cut by
  the image border keeps its cut parts (the views that cut it abstain), while space that no view
  constrains is still carved by the views that see the whole object (floaters).
- A point is kept when at least ``min_seen`` views see it on their mask and at most a share
  ``1 - vote`` of the views that vote on it call it outside (``vote = 1``: the strict hull).

Points stand for cells when ``radius > 0``: the slack then covers the projection of the cell's
bounding ball, ``f radius (z + |(x_c, y_c)|) / (z (z - radius))`` pixels for a centre at camera
coordinates (x_c, y_c, z) (its image is within that distance of the centre's), plus
``pixel_slack`` (rounding, calibration error); a view votes only on balls wholly in front of it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..errors import DvrError
from .camera import Camera

BORDER_BAND = 2  # pixels: a mask with object pixels this close to the image border is cut by it


def touches_border(mask: np.ndarray, band: int = BORDER_BAND) -> bool:
    """Whether the (H, W) bool ``mask`` has object pixels within ``band`` pixels of the image border."""
    return bool(mask[:band].any() or mask[-band:].any() or mask[:, :band].any() or mask[:, -band:].any())


def _slack_px(camera: Camera, points_cam: np.ndarray, radius: float, pixel_slack: float) -> np.ndarray:
    """(N,) pixels within which the image of each ball (centre (N, 3) camera frame, ``radius``) lies."""
    if radius <= 0:
        return np.full(len(points_cam), float(pixel_slack))
    z = points_cam[:, 2]
    lateral = np.linalg.norm(points_cam[:, :2], axis=1)
    focal = float(max(camera.K[0, 0], camera.K[1, 1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return focal * radius * (z + lateral) / (z * (z - radius)) + pixel_slack


def hull_votes(
    cameras: list[Camera],
    masks: list[np.ndarray],
    points: np.ndarray,
    radius: float = 0.0,
    pixel_slack: float = 0.0,
    max_outside: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every view's vote on every point.

    Args:
        cameras: N_v cameras (any frame, the points' frame); their distortion is applied.
        masks: N_v (H, W) bool masks matching the cameras' image size (True = object).
        points: (N, 3) points.
        radius: each point stands for a ball of this radius (see the module docstring); 0: a point.
        pixel_slack: extra pixels of tolerance.
        max_outside: stop counting for points already called outside by more views than this
            (their counts are then lower bounds): the strict hull needs only the first veto.
    Returns:
        n_on_mask (N,) int32: views that see the point on their mask;
        n_outside (N,) int32: views that call it outside.
    """
    if len(cameras) != len(masks):
        raise DvrError(f"{len(cameras)} cameras but {len(masks)} masks for the visual hull")
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    n_on = np.zeros(len(points), np.int32)
    n_out = np.zeros(len(points), np.int32)
    alive = np.arange(len(points))
    for camera, mask in zip(cameras, masks):
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (camera.height, camera.width):
            raise DvrError(
                f"mask of {camera.name or 'a camera'} is {mask.shape[1]}x{mask.shape[0]}, its camera is "
                f"{camera.width}x{camera.height}"
            )
        p = points[alive]
        p_cam = camera.world_to_camera(p)
        uv, depth = camera.project_depth(p, distort=True)
        front = depth > max(radius, 1e-9)
        slack = _slack_px(camera, p_cam, radius, pixel_slack)
        in_frame = front & camera.in_image(uv)
        if slack.max(initial=0.0) > 0:
            # distance (pixels) from each pixel to the nearest mask pixel; inf when the mask is empty
            dist = ndimage.distance_transform_edt(~mask) if mask.any() else np.full(mask.shape, np.inf)
        else:
            dist = np.where(mask, 0.0, np.inf)
        iu, iv = camera.pixel_index(uv[in_frame]).T
        outside = np.zeros(len(alive), bool)
        outside[in_frame] = dist[iv, iu] > slack[in_frame]
        n_on[alive[in_frame & ~outside]] += 1
        if not touches_border(mask):
            beyond = np.hypot(
                np.clip(-0.5 - uv[:, 0], 0, None) + np.clip(uv[:, 0] - camera.width + 0.5, 0, None),
                np.clip(-0.5 - uv[:, 1], 0, None) + np.clip(uv[:, 1] - camera.height + 0.5, 0, None),
            )
            outside |= front & ~in_frame & (beyond > slack)
        n_out[alive[outside]] += 1
        if max_outside is not None:
            alive = alive[n_out[alive] <= max_outside]
    return n_on, n_out


def visual_hull(
    cameras: list[Camera],
    masks: list[np.ndarray],
    points: np.ndarray,
    radius: float = 0.0,
    pixel_slack: float = 0.0,
    vote: float = 1.0,
    min_seen: int = 1,
) -> np.ndarray:
    """(N,) bool: the points kept by the rule of the module docstring.

    vote: the share of the voting views that must not call a point outside (1: none may).
    min_seen: the views that must see a point on their mask.
    """
    if not 0.0 < vote <= 1.0:
        raise ValueError(f"vote must be in (0, 1], got {vote}")
    max_outside = math.floor((1.0 - vote) * len(cameras) + 1e-9)
    n_on, n_out = hull_votes(cameras, masks, points, radius, pixel_slack, max_outside)
    return (n_on >= min_seen) & (n_out <= (1.0 - vote) * (n_on + n_out) + 1e-9)
