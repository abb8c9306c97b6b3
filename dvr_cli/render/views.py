"""Camera paths for novel views, and writing rendered frames (PNG, 16-bit depth, normals, MP4).

Rendering a list of world cameras with a fitted run is :func:`render_views`; `dvr render`
only picks the cameras.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from ..errors import DvrError
from ..files import atomic_path, to_uint8, write_bytes_atomic
from ..ownership import check_file_target
from ..scene.camera import Camera, look_at

OUTPUTS = ("rgb", "depth", "normal", "mask")
#: 16-bit depth PNGs store world depth * DEPTH_PNG_SCALE (millimetres for metre scenes).
DEPTH_PNG_SCALE = 1000.0


def average_up(cameras: Sequence[Camera]) -> np.ndarray:
    """(3,) unit mean of the cameras' image-up directions (-R[1]: OpenCV's y points down)."""
    up = -np.mean([c.R[1] for c in cameras], axis=0)
    norm = np.linalg.norm(up)
    if norm < 1e-6:
        raise DvrError("the training cameras' up directions cancel out; cannot choose an orbit")
    return up / norm


def orbit_cameras(
    train_cameras: Sequence[Camera],
    n_frames: int,
    width: int | None = None,
    height: int | None = None,
    center: np.ndarray | None = None,
) -> list[Camera]:
    """``n_frames`` cameras on a circle around ``center`` (world), all looking at it.

    The circle lies at the training cameras' mean distance from ``center`` and mean elevation
    above the plane normal to their average up vector; it starts at the first training
    camera's azimuth. Intrinsics: the first training camera's, resized to ``width`` x ``height``
    (default: its own size). ``center`` defaults to the point the cameras look at together.
    """
    if n_frames < 1:
        raise DvrError(f"--frames must be at least 1 (got {n_frames})")
    if center is None:
        from ..scene.normalise import common_view_point

        center = common_view_point(list(train_cameras))
    center = np.asarray(center, dtype=np.float64)
    up = average_up(train_cameras)
    offsets = np.array([c.center - center for c in train_cameras])
    distance = np.linalg.norm(offsets, axis=1)
    elevation = np.arcsin(np.clip(offsets @ up / distance, -1.0, 1.0)).mean()
    first = offsets[0] - (offsets[0] @ up) * up
    if np.linalg.norm(first) < 1e-9:  # first camera straight above: any horizontal start
        first = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 = first / np.linalg.norm(first)
    e2 = np.cross(up, e1)
    base = train_cameras[0]
    base = base.resized(width or base.width, height or base.height)
    cameras = []
    for k, azimuth in enumerate(np.linspace(0.0, 2.0 * np.pi, n_frames, endpoint=False)):
        direction = np.cos(elevation) * (np.cos(azimuth) * e1 + np.sin(azimuth) * e2) + np.sin(elevation) * up
        R, t = look_at(center + distance.mean() * direction, center, up)
        cameras.append(Camera(base.K, R, t, base.width, base.height, name=f"{k:04d}.png"))
    return cameras


def ray_to_z_depth(ray_depth: np.ndarray, camera: Camera, scale: float = 1.0) -> np.ndarray:
    """Distance along unit rays (H, W) -> depth along the camera z axis (H, W), times ``scale``.

    For pixel (u, v) the ray direction is K^-1 (u, v, 1) normalised, whose z is
    1 / |K^-1 (u, v, 1)|. ``scale`` turns unit-frame lengths into world units.
    """
    u, v = np.meshgrid(np.arange(camera.width), np.arange(camera.height), indexing="xy")
    pix = np.stack([u, v, np.ones_like(u)], axis=-1).astype(np.float64)
    cam_dirs = pix @ np.linalg.inv(camera.K).T
    return (ray_depth * scale / np.linalg.norm(cam_dirs, axis=-1)).astype(np.float32)


def _imwrite(path: Path, data: np.ndarray) -> None:
    """Encode by ``path``'s extension and write atomically (an interrupted render leaves no half image)."""
    ok, encoded = cv2.imencode(Path(path).suffix, data)
    if not ok:
        raise DvrError("cannot encode image", path)
    write_bytes_atomic(path, encoded.tobytes())


def write_rgb(path: Path, rgb: np.ndarray, mask: np.ndarray | None = None) -> None:
    """8-bit PNG of (H, W, 3) RGB in [0, 1]; with ``mask`` (H, W) bool, RGBA with alpha = mask."""
    bgr = to_uint8(rgb)[..., ::-1]
    if mask is not None:
        bgr = np.dstack([bgr, mask.astype(np.uint8) * 255])
    _imwrite(path, bgr)


def write_depth(path: Path, z: np.ndarray) -> Path:
    """Depth (H, W) world units: 16-bit PNG of z * 1000 (clipped; 0 = no surface) + raw ``.npy``.

    Returns the ``.npy`` path (same stem as ``path``).
    """
    _imwrite(path, np.clip(np.round(z * DEPTH_PNG_SCALE), 0, 65535).astype(np.uint16))
    npy = Path(path).with_suffix(".npy")
    with atomic_path(npy) as tmp, open(tmp, "wb") as f:
        np.save(f, z.astype(np.float32))
    return npy


def write_normal(path: Path, normal: np.ndarray, mask: np.ndarray) -> None:
    """World-space unit normals (H, W, 3) as colour (n + 1) / 2; black where ``mask`` is False."""
    write_rgb(path, np.where(mask[..., None], (normal + 1.0) / 2.0, 0.0))


def write_mask(path: Path, mask: np.ndarray) -> None:
    """(H, W) bool -> 8-bit PNG, white = object."""
    _imwrite(path, mask.astype(np.uint8) * 255)


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 24.0) -> None:
    """MP4 (codec 'mp4v') of (H, W, 3) uint8 RGB frames, all the same size, written atomically."""
    writer = None
    with atomic_path(path, suffix=".tmp.mp4") as tmp:
        try:
            for frame in frames:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                    if not writer.isOpened():
                        raise DvrError("cannot open an mp4v video writer", path)
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
        finally:
            if writer is not None:
                writer.release()


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
