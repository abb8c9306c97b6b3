"""Finding image files on disk: listing, natural order, sizes from headers."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import DvrError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
# Sub-folders that hold the photos in common layouts (DTU: image/, nerfstudio/COLMAP: images/).
IMAGE_DIR_NAMES = ("images", "image", "rgb")
MASK_DIR_NAMES = ("masks", "mask")


def natural_key(path: Path) -> list:
    """Sort key that orders 'img2' before 'img10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", Path(path).name)]


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, in natural order."""
    return sorted(
        (p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()), key=natural_key
    )


def images_folder(folder: Path) -> Path:
    """``folder`` itself when it holds images, else its images/ (or image/, rgb/) sub-folder.

    Raises DvrError when the folder is missing or holds no images at either level.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DvrError("images folder does not exist", folder)
    if list_images(folder):
        return folder
    for name in IMAGE_DIR_NAMES:
        if (folder / name).is_dir() and list_images(folder / name):
            return folder / name
    raise DvrError(f"no images ({', '.join(IMAGE_EXTS[:3])} ...) in the folder", folder)


def sibling_masks_folder(images_dir: Path) -> Path | None:
    """A masks folder next to (or inside) the images folder, as DTU's mask/ beside image/."""
    for base in (Path(images_dir), Path(images_dir).parent):
        for name in MASK_DIR_NAMES:
            candidate = base / name
            if candidate.is_dir() and candidate != Path(images_dir) and list_images(candidate):
                return candidate
    return None


def with_image_suffix(path: Path) -> Path | None:
    """``path`` if it exists, else the same path with an image extension added (NeRF's './train/r_0')."""
    path = Path(path)
    if path.is_file():
        return path
    for ext in IMAGE_EXTS:
        candidate = path.with_name(path.name + ext)
        if candidate.is_file():
            return candidate
    return None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError) as exc:
        raise DvrError(f"cannot read image ({exc})", path) from None


def locate(nominal: Path, images_dir: Path | None) -> Path | None:
    """The file a camera file names: ``nominal`` itself, else the same name in ``images_dir``.

    Either may lack its extension (NeRF writes './train/r_0'). None when nothing is found.
    """
    found = with_image_suffix(nominal)
    if found is None and images_dir is not None:
        found = with_image_suffix(Path(images_dir) / Path(nominal).name)
    return found
