"""Camera files dvr reads, one module per format, all converted to OpenCV world-to-camera.

``read_cameras(path)`` detects the format and returns a :class:`CameraSet`.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DvrError
from ...files import read_json
from .camera_set import CameraSet
from .colmap import model_files_present, read_colmap
from .dtu import read_dtu
from .dvr import read_dvr
from .transforms import read_transforms

FORMATS = ("dvr", "scene", "dtu", "transforms", "colmap")
# Where camera files sit inside a dataset folder, in the order they are looked for.
FOLDER_CANDIDATES = ("cams.json", "transforms.json", "transforms_train.json", "cameras.npz", "cameras_sphere.npz")
COLMAP_SUBFOLDERS = (".", "sparse/0", "sparse", "colmap/sparse/0")


def detect_format(path: str | Path) -> tuple[str, Path]:
    """The camera format of ``path`` and the file (or COLMAP folder) that holds the cameras.

    A .json with "cameras" is dvr's cams.json ('scene' when it also holds "normalization",
    i.e. a calibrated scene); with "frames" a transforms.json; a .npz is DTU/IDR/NeuS; a folder
    is searched for those files, then for a COLMAP model (itself, sparse/0, ...).
    """
    path = Path(path)
    if not path.exists():
        raise DvrError("camera file or folder does not exist", path)
    if path.is_dir():
        for name in FOLDER_CANDIDATES:
            if (path / name).is_file():
                return detect_format(path / name)
        for sub in COLMAP_SUBFOLDERS:
            if model_files_present(path / sub):
                return "colmap", (path / sub).resolve()
        raise DvrError(
            f"no camera file in the folder (looked for {', '.join(FOLDER_CANDIDATES)}, a COLMAP model)", path
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return "dtu", path
    if suffix == ".json":
        data = read_json(path)
        if "cameras" in data:
            return ("scene" if "normalization" in data else "dvr"), path
        if "frames" in data:
            return "transforms", path
        raise DvrError("JSON has neither 'cameras' (dvr cams.json) nor 'frames' (transforms.json)", path)
    if path.name in ("cameras.bin", "cameras.txt", "images.bin", "images.txt"):
        return detect_format(path.parent)
    raise DvrError("not a known camera format (cams.json, transforms.json, cameras.npz, COLMAP model)", path)


def read_cameras(path: str | Path, images_dir: Path | None = None) -> CameraSet:
    """Read the cameras in ``path`` (any supported format) with image paths resolved.

    ``images_dir`` is where images the file names without a folder are looked up; DTU's npz is
    matched to it by order (default: the images folder next to the npz).
    """
    fmt, file = detect_format(path)
    if fmt in ("dvr", "scene"):
        return read_dvr(file)
    if fmt == "transforms":
        return read_transforms(file, images_dir)
    if fmt == "colmap":
        return read_colmap(file, images_dir)
    return read_dtu(file, images_dir if images_dir is not None else file.parent)


__all__ = ["CameraSet", "FORMATS", "detect_format", "read_cameras"]
