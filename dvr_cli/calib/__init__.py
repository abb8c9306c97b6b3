"""Camera estimation from photos: structure from motion (pycolmap), the scene frame,
checkerboard intrinsics and automatic object masks."""

from .align import pose_errors, transform_camera, umeyama
from .automask import auto_masks, write_masks
from .checkerboard import Intrinsics, calibrate_checkerboard, load_intrinsics
from .frame import SceneFrame, choose_frame, object_points
from .sfm import SfmResult, estimate_cameras, write_points_ply

__all__ = [
    "Intrinsics",
    "SceneFrame",
    "SfmResult",
    "auto_masks",
    "calibrate_checkerboard",
    "choose_frame",
    "estimate_cameras",
    "load_intrinsics",
    "object_points",
    "pose_errors",
    "transform_camera",
    "umeyama",
    "write_masks",
    "write_points_ply",
]
