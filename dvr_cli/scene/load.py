"""``load_scene``: camera file + photos (+ masks) -> an undistorted, resized, normalised Scene."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import DvrError
from .camera import Camera
from .depth import find_depth, read_depth, resize_depth
from .formats import CameraSet, read_cameras
from .image_paths import IMAGE_EXTS, images_folder, list_images, locate, sibling_masks_folder
from .images import SIDEWAYS, exif_orientation, read_image, read_mask, resize_image, resize_mask, upright
from .normalise import choose_normalization
from .types import Scene, View
from .undistort import undistort_view

MIN_VIEWS = 2
#: Camera formats of other tools, whose frames may name photos that were not shipped; the least
#: number of frames with photos such a file must keep.
PEER_FORMATS = ("transforms", "colmap")
MIN_FRAMES = 3


def _names(items, limit: int = 3) -> str:
    """'a, b, c and 7 more' for error messages."""
    items = [str(i) for i in items]
    head = ", ".join(items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _resolve_images(
    cameras: CameraSet, images_dir: Path | None, folder_error: DvrError | None, warn: Callable[[str], None]
) -> tuple[CameraSet, list[Path]]:
    """The cameras that have an image file, and their images.

    A peer tool's camera file (transforms.json, a COLMAP model) often lists more frames than the
    photos shipped with it (instant-ngp's fox: 67 frames, 50 photos; the peer trains on the 50):
    its frames without a photo are left out with one ``warn`` line, and only fewer than
    MIN_FRAMES left is an error. dvr's own files and DTU's npz name exactly their images: there a
    missing image is an error. Images in ``images_dir`` without a camera are an error too.
    """
    found = [locate(path, images_dir) if path is not None else None for path in cameras.images]
    missing = [c.name or f"#{i}" for i, (c, path) in enumerate(zip(cameras.cameras, found)) if path is None]
    if missing:
        if folder_error is not None and len(missing) == len(found):
            raise folder_error
        if cameras.format not in PEER_FORMATS or len(found) - len(missing) < MIN_FRAMES:
            raise DvrError(f"{len(missing)} camera(s) have no image file: {_names(missing)}", cameras.path)
        warn(
            f"{len(missing)} of {len(found)} frames in {cameras.path.name} have no photo and are skipped: "
            f"{_names(missing)}"
        )
        keep = [i for i, path in enumerate(found) if path is not None]
        cameras = replace(
            cameras,
            cameras=[cameras.cameras[i] for i in keep],
            images=[cameras.images[i] for i in keep],
            masks=[cameras.masks[i] for i in keep],
        )
        found = [found[i] for i in keep]
    if images_dir is not None:
        listed = list_images(images_dir)
        used = {p.resolve() for p in found}
        extra = [p.name for p in listed if p.resolve() not in used]
        # When no camera took its image from this folder (the camera file names images
        # elsewhere), the folder is not the photo set and its other files are no concern.
        if extra and len(extra) < len(listed):
            raise DvrError(f"{len(extra)} image(s) have no camera in {cameras.path.name}: {_names(extra)}", images_dir)
    return cameras, found


def _find_mask(folder: Path, name: str) -> Path | None:
    """A mask named like the image: same file name, or same stem with any image extension."""
    for candidate in [folder / name] + [folder / (Path(name).stem + ext) for ext in IMAGE_EXTS]:
        if candidate.is_file():
            return candidate
    return None


def _masks_from_folder(folder: Path, cameras: list[Camera]) -> list[Path]:
    """Masks matched to cameras by file name, or by natural order when no name matches
    and the counts agree (DTU: image/000000.png <-> mask/000.png)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DvrError("masks folder does not exist", folder)
    files = list_images(folder)
    if not files:
        raise DvrError("no mask images in the folder", folder)
    matched = [_find_mask(folder, c.name) for c in cameras]
    if not any(matched) and len(files) == len(cameras):
        return files
    missing = [c.name for c, m in zip(cameras, matched) if m is None]
    if missing:
        raise DvrError(f"no mask for {len(missing)} image(s): {_names(missing)}", folder)
    return matched


def _mask_paths(cameras: CameraSet, masks: Path | None, images_dir: Path | None) -> tuple[list[Path | None], str]:
    """Per camera, the mask file to read (None: alpha or no mask), and where masks come from."""
    if masks is not None:
        return _masks_from_folder(masks, cameras.cameras), str(masks)
    if any(m is not None for m in cameras.masks):
        for m in cameras.masks:
            if m is not None and not m.is_file():
                raise DvrError(f"mask '{m.name}' named in the camera file does not exist", m)
        return list(cameras.masks), "camera file"
    auto = sibling_masks_folder(images_dir) if images_dir is not None else None
    if auto is not None:
        return _masks_from_folder(auto, cameras.cameras), str(auto)
    return [None] * len(cameras.cameras), "alpha"


def _scale_factor(width: int, height: int, downscale: float, max_size: int | None) -> float:
    factor = float(downscale)
    if max_size is not None:
        factor = max(factor, max(width, height) / max_size)
    return factor


def _load_view(
    camera: Camera,
    image_path: Path,
    mask_path: Path | None,
    downscale: float,
    max_size: int | None,
    depth_path: Path | None = None,
    depth_scale: float = 1000.0,
) -> View:
    """Decode, check sizes, undistort, then resize one view."""
    image, alpha = read_image(image_path)
    height, width = image.shape[:2]
    if (height, width) == (camera.width, camera.height) != (camera.height, camera.width):
        # Stored on its side and a camera of the upright photo: the file was written from copies
        # turned by their EXIF orientation (the stored pixels are what peer tools read; images.py).
        orientation = exif_orientation(image_path)
        if orientation in SIDEWAYS:
            image = upright(image, orientation)
            alpha = None if alpha is None else upright(alpha, orientation)
            height, width = image.shape[:2]
    if (width, height) != (camera.width, camera.height):
        raise DvrError(f"image is {width}x{height} but its camera says {camera.width}x{camera.height}", image_path)
    mask = None
    if mask_path is not None:
        mask = read_mask(mask_path)
        if mask.shape != (height, width):
            raise DvrError(f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is {width}x{height}", mask_path)
    elif alpha is not None:
        mask = alpha > 0.5
    depth = None
    if depth_path is not None:
        depth = read_depth(depth_path, depth_scale)
        if depth.shape != (height, width):
            raise DvrError(
                f"depth map is {depth.shape[1]}x{depth.shape[0]} but its image is {width}x{height}", depth_path
            )
        if camera.dist is not None:
            raise DvrError("depth maps of distorted cameras are not supported: undistort them first", depth_path)
    camera, image, mask = undistort_view(camera, image, mask)
    factor = _scale_factor(width, height, downscale, max_size)
    if factor != 1.0:
        new_w, new_h = max(1, round(width / factor)), max(1, round(height / factor))
        camera = camera.resized(new_w, new_h)
        image = resize_image(image, new_w, new_h)
        mask = None if mask is None else resize_mask(mask, new_w, new_h)
        depth = None if depth is None else resize_depth(depth, new_w, new_h)
    return View(camera, image.astype(np.float32, copy=False), mask, depth, image_path, mask_path)


def _depth_paths(folder: Path, image_paths: list[Path]) -> list[Path]:
    """The depth map of every image; DvrError naming the images that have none."""
    if not folder.is_dir():
        raise DvrError("depth folder does not exist", folder)
    found = [find_depth(folder, p.name) for p in image_paths]
    missing = [p.name for p, d in zip(image_paths, found) if d is None]
    if missing:
        raise DvrError(f"{len(missing)} image(s) have no depth map: {_names(missing)}", folder)
    return found


def load_scene(
    images: str | Path,
    cameras: str | Path | None = None,
    masks: str | Path | None = None,
    downscale: float = 1.0,
    max_size: int | None = None,
    depth: str | Path | None = None,
    depth_scale: float = 1000.0,
    warn: Callable[[str], None] | None = None,
) -> Scene:
    """Load a scene: cameras (any format), photos, masks; undistort, resize and normalise.

    Args:
        images: folder of photos (or its parent holding images/ or image/), a calibrated scene
            folder written by :func:`write_scene`, or a dataset folder / camera file itself.
        cameras: the camera file or COLMAP folder; None to find it inside ``images``.
        masks: folder of masks named like the images (or in the same natural order); None to use
            the camera file's masks, the images' alpha, or a mask/ or masks/ folder next to the images.
        downscale: divide the image size by this factor (>= 1).
        max_size: also shrink so that the longer side is at most this many pixels.
        depth: folder of depth maps named like the images (.npy/.exr float world units, or
            16-bit .png with ``depth_scale`` values per world unit); every view must have one.
        warn: called with a one-line warning (frames of a peer's camera file without a photo,
            which are skipped); default ``warnings.warn``.

    Returns:
        Scene with world-unit cameras (no distortion), images (H, W, 3) float32, masks (H, W)
        bool or None, and the normalisation. ``meta``: format, cameras_file, images_dir, masks
        (where masks came from), downscale, undistorted, bbox (2x3 world), load_args.
    """
    images = Path(images)
    if not (downscale >= 1 and math.isfinite(downscale)):
        raise DvrError(f"--downscale must be a number >= 1 (got {downscale})")
    if max_size is not None and max_size < 8:
        raise DvrError(f"--max-size must be at least 8 pixels (got {max_size})")
    if not images.exists():
        raise DvrError("does not exist", images)
    if images.is_dir() and not any(images.iterdir()):
        raise DvrError("the images folder is empty", images)
    root = images if images.is_dir() else images.parent
    # A dataset folder may hold no photos itself when the camera file names them elsewhere
    # (NeRF's train/r_0.png): the folder's error is raised only if some image is not found.
    try:
        images_dir, folder_error = images_folder(root), None
    except DvrError as exc:
        images_dir, folder_error = None, exc
    camera_set = read_cameras(images if cameras is None else Path(cameras), images_dir or root)
    camera_set, image_paths = _resolve_images(camera_set, images_dir, folder_error, warn or warnings.warn)
    mask_paths, mask_source = _mask_paths(camera_set, None if masks is None else Path(masks), images_dir)
    depth_paths = _depth_paths(Path(depth), image_paths) if depth is not None else [None] * len(image_paths)
    views = [
        _load_view(camera, image, mask, downscale, max_size, depth_path, depth_scale)
        for camera, image, mask, depth_path in zip(camera_set.cameras, image_paths, mask_paths, depth_paths)
    ]
    if len(views) < MIN_VIEWS:
        raise DvrError(f"only {len(views)} view(s); dvr needs at least {MIN_VIEWS}", camera_set.path)
    if mask_source == "alpha" and not all(v.mask is not None for v in views):
        mask_source = "none"
    normalization, bbox = choose_normalization(
        [v.camera for v in views], [v.mask for v in views], camera_set.bbox, camera_set.normalization
    )
    meta = {
        "format": camera_set.format,
        "cameras_file": str(camera_set.path),
        "images_dir": str(images_dir) if images_dir is not None else str(image_paths[0].parent),
        "masks": mask_source,
        "downscale": camera_set.cameras[0].width / views[0].camera.width,
        "undistorted": any(c.dist is not None for c in camera_set.cameras),
        "bbox": np.asarray(bbox).tolist(),
        # enough to load the same scene again (a run folder records it)
        "load_args": {
            "images": str(images.resolve()),
            "cameras": None if cameras is None else str(Path(cameras).resolve()),
            "masks": None if masks is None else str(Path(masks).resolve()),
            "downscale": downscale,
            "max_size": max_size,
            "depth": None if depth is None else str(Path(depth).resolve()),
            "depth_scale": depth_scale,
        },
    }
    return Scene(views, normalization, camera_set.path, meta)


def load_cameras(path: str | Path, images: str | Path | None = None) -> list[Camera]:
    """Cameras only, any format, world units (distortion kept in ``camera.dist``).

    ``images`` is where images named without a folder are looked up (needed for DTU's npz,
    which is matched to its images by order, and NeRF files that give only a field of view).
    """
    return read_cameras(path, None if images is None else Path(images)).cameras
