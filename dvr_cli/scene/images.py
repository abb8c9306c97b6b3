"""Reading photos and masks into dvr's arrays, and resampling them.

Images become float32 RGB in [0, 1] whatever the file holds (8- or 16-bit, gray, RGB, RGBA).
An alpha channel is the object mask, and the colour is composited onto a white background
with it: NeRF-synthetic stores black under alpha = 0, and fitting wants every scene's
background to be the same colour.

EXIF orientation: the stored pixels are read as they are, as instant-ngp (stb_image), COLMAP and
nerfstudio's data loader read them: their camera files describe the stored pixel array, so a
phone's portrait JPEG stored landscape with orientation 6 has a landscape camera there.
:func:`upright` applies the orientation for camera files written from upright copies.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DvrError


def _read_raw(path: Path) -> np.ndarray:
    """(H, W) or (H, W, C) pixels as float32 in [0, 1], colour channels in RGB(A) order."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise DvrError("cannot decode image (missing, empty or not an image)", path)
    if raw.size == 0:
        raise DvrError("image has no pixels", path)
    if raw.dtype == np.uint8:
        pixels = raw.astype(np.float32) / 255.0
    elif raw.dtype == np.uint16:
        pixels = raw.astype(np.float32) / 65535.0
    else:
        pixels = np.clip(raw.astype(np.float32), 0.0, 1.0)
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        pixels[..., :3] = pixels[..., 2::-1]  # OpenCV reads BGR(A)
    return pixels


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode a photo.

    Returns:
        rgb: (H, W, 3) float32 in [0, 1]; composited onto white where there is alpha.
        alpha: (H, W) float32 in [0, 1] from the alpha channel, or None.
    """
    pixels = _read_raw(Path(path))
    if pixels.ndim == 2:
        return np.repeat(pixels[..., None], 3, axis=2), None
    if pixels.shape[2] == 4:  # OpenCV also expands gray + alpha to 4 channels
        rgb, alpha = pixels[..., :3], pixels[..., 3]
        return np.ascontiguousarray(rgb * alpha[..., None] + (1.0 - alpha[..., None])), np.ascontiguousarray(alpha)
    return np.ascontiguousarray(pixels[..., :3]), None


#: EXIF orientation (tag 0x0112) -> the turn that shows the stored pixels upright: (transpose first,
#: then quarter turns counter-clockwise as np.rot90, then a left-right mirror).
ORIENTATIONS = {
    2: (False, 0, True),
    3: (False, 2, False),
    4: (False, 2, True),
    5: (True, 0, False),
    6: (False, 3, False),
    7: (True, 2, False),
    8: (False, 1, False),
}
EXIF_ORIENTATION = 0x0112
#: Orientations whose upright photo has the stored photo's width as its height.
SIDEWAYS = (5, 6, 7, 8)


def exif_orientation(path: Path) -> int:
    """The EXIF orientation of an image file (1, upright as stored, when it has none)."""
    try:
        with Image.open(path) as image:
            return int(image.getexif().get(EXIF_ORIENTATION, 1))
    except (OSError, UnidentifiedImageError, ValueError, TypeError):
        return 1


def upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """(H, W, ...) stored pixels -> the same pixels as shown upright by EXIF ``orientation``
    (PIL's ``ImageOps.exif_transpose``); (W, H, ...) for orientations 5 to 8."""
    if orientation not in ORIENTATIONS:
        return pixels
    transpose, turns, mirror = ORIENTATIONS[orientation]
    if transpose:
        pixels = np.swapaxes(pixels, 0, 1)
    pixels = np.rot90(pixels, turns)
    return np.ascontiguousarray(pixels[:, ::-1] if mirror else pixels)


def read_mask(path: Path) -> np.ndarray:
    """(H, W) bool object mask: any channel above half range (> 127 for 8-bit) is object.

    A mask with alpha uses the alpha channel (transparent = background).
    """
    pixels = _read_raw(Path(path))
    if pixels.ndim == 3:
        pixels = pixels[..., 3] if pixels.shape[2] == 4 else pixels.max(axis=2)
    return pixels > 0.5


def fit_within(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h): ``width`` x ``height`` shrunk, aspect kept, until its longer side is at most
    ``long_side`` pixels (never enlarged; at least 1 pixel a side)."""
    factor = min(1.0, long_side / max(width, height))
    return max(1, round(width * factor)), max(1, round(height * factor))


def resize_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, C) -> (height, width, C) by area averaging (no aliasing when shrinking)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W) bool -> (height, width) bool: area-averaged coverage >= 0.5."""
    if mask.shape[1] == width and mask.shape[0] == height:
        return mask
    return cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) >= 0.5
