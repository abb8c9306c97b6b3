"""Rendering a list of cameras to image files: colour, z depth, normals, masks and a video.

``dvr render`` picks the cameras (scene.camera_paths, the recorded views) and the function that
renders one (``Run.render``, or an exported mesh's renderer); the files are written by image_files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import DvrError
from ..files import to_uint8
from ..image_files import write_depth, write_mask, write_normal, write_rgb, write_video
from ..ownership import check_file_target
from ..scene.camera import Camera

OUTPUTS = ("rgb", "depth", "normal", "mask")


def ray_to_z_depth(ray_depth: np.ndarray, camera: Camera, scale: float = 1.0) -> np.ndarray:
    """Distance along unit rays (H, W) -> depth along the camera z axis (H, W), times ``scale``.

    A unit ray w (:meth:`Camera.pixel_rays`) advances w . forward along the camera's z per unit of
    length. ``scale`` turns unit-frame lengths into world units.
    """
    _, dirs = camera.pixel_rays(camera.pixel_centers(np.float64))
    z_per_length = (dirs @ camera.forward).reshape(camera.height, camera.width)
    return (ray_depth * scale * z_per_length).astype(np.float32)


RenderFn = Callable[[Camera], dict]


def _endings(what: Sequence[str]) -> list[str]:
    """What follows a view's stem in the names of the files ``render_views`` writes for ``what``."""
    endings = {"rgb": [".png"], "depth": ["_depth.png", "_depth.npy"], "normal": ["_normal.png"], "mask": ["_mask.png"]}
    return [e for w in what for e in endings[w]]


def render_views(
    render: RenderFn,
    cameras: Sequence[Camera],
    out_dir: Path,
    what: Sequence[str] = ("rgb",),
    transparent: bool = False,
    video: bool = False,
    on_frame: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Render world ``cameras`` and write the requested outputs to ``out_dir``.

    ``render(camera)`` returns numpy arrays for the world camera: ``rgb (H, W, 3)``, ``depth
    (H, W)`` (distance along the ray, world units, 0 on miss), ``normal (H, W, 3)``, ``mask (H, W)``
    (e.g. ``Run.render``). Files per camera, named by the camera's name (its image file stem):
    ``<stem>.png`` (rgb), ``<stem>_depth.png`` + ``.npy`` (z depth, world units),
    ``<stem>_normal.png``, ``<stem>_mask.png``; with ``video``, ``video.mp4`` of the rgb frames.
    Returns the files.
    """
    unknown = sorted(set(what) - set(OUTPUTS))
    if unknown or not what:
        raise DvrError(f"--what {','.join(what)}: choose from {','.join(OUTPUTS)}")
    out_dir = Path(out_dir)
    stems = [Path(camera.name).stem if camera.name else f"{i:04d}" for i, camera in enumerate(cameras)]
    for name in [f"{stem}{ending}" for stem in stems for ending in _endings(what)] + ["video.mp4"] * video:
        check_file_target(out_dir / name)  # before any rendering: a re-render never replaces a user's file
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DvrError(f"cannot create the output folder ({exc.strerror or exc})", out_dir) from None
    written, frames = [], []
    for i, (camera, stem) in enumerate(zip(cameras, stems)):
        image = render(camera)
        if "rgb" in what:
            written.append(out_dir / f"{stem}.png")
            write_rgb(written[-1], image["rgb"], image["mask"] if transparent else None)
        if "depth" in what:
            written.append(out_dir / f"{stem}_depth.png")
            written.append(write_depth(written[-1], ray_to_z_depth(image["depth"], camera)))
        if "normal" in what:
            written.append(out_dir / f"{stem}_normal.png")
            write_normal(written[-1], image["normal"], image["mask"])
        if "mask" in what:
            written.append(out_dir / f"{stem}_mask.png")
            write_mask(written[-1], image["mask"])
        if video:
            frames.append(to_uint8(image["rgb"]))
        if on_frame is not None:
            on_frame(i + 1, len(cameras))
    if video:
        written.append(out_dir / "video.mp4")
        write_video(written[-1], frames)
    return written
