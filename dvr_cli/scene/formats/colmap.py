"""COLMAP sparse models (cameras/images/points3D as .bin or .txt), read with pycolmap.

COLMAP puts pixel centres at i + 0.5 (the image spans [0, W]), so cx_opencv = cx - 0.5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DvrError
from ..camera import Camera
from .camera_set import CameraSet

# COLMAP model -> names of its parameters in COLMAP's order.
MODEL_PARAMS = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k1"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
}


def model_files_present(folder: Path) -> bool:
    return all(
        (folder / f"{name}.bin").is_file() or (folder / f"{name}.txt").is_file() for name in ("cameras", "images")
    )


def _intrinsics(model: str, params: np.ndarray, path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """COLMAP (model, params) -> (K (3,3) OpenCV pixel centres, dist (5,) k1 k2 p1 p2 k3)."""
    if model not in MODEL_PARAMS:
        raise DvrError(f"image '{name}': camera model {model} is not supported ({', '.join(MODEL_PARAMS)})", path)
    p = dict(zip(MODEL_PARAMS[model], params))
    fx, fy = p.get("fx", p.get("f")), p.get("fy", p.get("f"))
    K = np.array([[fx, 0, p["cx"] - 0.5], [0, fy, p["cy"] - 0.5], [0, 0, 1]])
    dist = np.array([p.get(key, 0.0) for key in ("k1", "k2", "p1", "p2", "k3")])
    return K, dist


def read_colmap(folder: Path, images_dir: Path | None = None) -> CameraSet:
    """Every registered image of the model in ``folder``, sorted by image name.

    COLMAP names images relative to the folder SfM ran on, which the model does not record:
    they are looked up in ``images_dir``.
    """
    import pycolmap

    # pycolmap logs through glog to stderr; only errors matter to dvr's users.
    pycolmap.logging.minloglevel = 2
    try:
        reconstruction = pycolmap.Reconstruction(str(folder))
    except Exception as exc:  # pycolmap raises plain RuntimeError/ValueError on bad files
        raise DvrError(
            f"cannot read the COLMAP model ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})", folder
        ) from None
    images = sorted((im for im in reconstruction.images.values() if im.has_pose), key=lambda im: im.name)
    if not images:
        raise DvrError("the COLMAP model has no registered images", folder)
    cameras = []
    for image in images:
        colmap_camera = reconstruction.cameras[image.camera_id]
        K, dist = _intrinsics(colmap_camera.model.name, np.asarray(colmap_camera.params), folder, image.name)
        pose = image.cam_from_world()
        camera = Camera(
            K,
            pose.rotation.matrix(),
            pose.translation,
            colmap_camera.width,
            colmap_camera.height,
            dist,
            Path(image.name).name,
        )
        cameras.append(camera.validate(folder))
    base = Path(images_dir) if images_dir is not None else Path()
    return CameraSet(cameras, [base / im.name for im in images], [None] * len(images), "colmap", Path(folder))
