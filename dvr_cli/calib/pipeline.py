"""Photos alone -> a calibrated scene folder; checkerboard photos -> ``intrinsics.json``.

The photos-only path chains the calib pieces: structure from motion (:mod:`.sfm`), the
object-centred frame (:mod:`.frame`), optional automatic masks (:mod:`.automask`). The SfM
cameras, with their distortion, go into a temporary ``cams.json`` beside the work files, which
is read back with ``load_scene`` and written with ``write_scene``: undistortion, resizing and
normalisation are the very code the ``--cameras`` path runs.

Normalisation: with masks, their visual hull (as for any scene with masks); without, the frame's
box around the sparse object points. The points' box alone cut off 10% of the example object
(its underside, which the cameras barely see, has few points), and the fitted mesh's Chamfer
distance was 1.85x that of the true cameras' fit instead of 1.25x with the hull.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DvrError
from ..files import read_trimesh, to_uint8
from ..ownership import check_file_target, check_replaceable
from ..scene import Scene, load_scene
from ..scene.files import images_folder, list_images, sibling_masks_folder
from ..scene.images import read_image
from ..scene.write import CAMS_FILE, scene_folder, scene_inputs, write_scene_files
from .automask import AutoMasks, auto_masks, write_confidence, write_masks
from .checkerboard import Intrinsics, calibrate_checkerboard
from .contact import write_contact_sheet
from .frame import SceneFrame, choose_frame
from .sfm import SfmResult, estimate_cameras, write_points_ply

#: ``masks=`` value that asks for automatic masks.
AUTO = "auto"
#: The SfM points of a photos-only calibration, world frame, beside the scene's cams.json.
SPARSE_FILE = "sparse.ply"
#: Photos-only with automatic masks: every photo with its mask outline and confidence.
CONTACT_SHEET = "masks.png"
#: Kept in OUT/sfm/: COLMAP's model (its own frame, open it with the COLMAP GUI) and log.
SFM_DIR = "sfm"
SFM_KEPT = ("sparse", "colmap.log")

Progress = Callable[[str, int, int], None]


@dataclass
class PhotoCalibration:
    """What :func:`calibrate_photos` wrote and found.

    Attributes:
        out: the calibrated scene folder.
        scene: the scene as written (undistorted, resized; world = the chosen frame).
        sfm: the SfM result in COLMAP's frame (``sfm.unregistered`` were left out).
        frame: the similarity from COLMAP's frame to the scene's world frame.
        points: (P, 3) sparse points in the world frame (as in ``OUT/sparse.ply``).
        timings: seconds per stage ('features', 'matching', 'mapping', 'refining', 'masks',
            'scene') and 'total'.
    """

    out: Path
    scene: Scene
    sfm: SfmResult
    frame: SceneFrame
    points: np.ndarray
    timings: dict = field(default_factory=dict)


def _masks_in_raw_images(paths: list[Path], cameras, frame: SceneFrame, points: np.ndarray, folder: Path,
                         report: Progress) -> tuple[list[Path], list[np.ndarray], AutoMasks]:
    """Automatic masks of the raw photos, written as PNGs into ``folder``: one path per photo, the
    photos (uint8, for the contact sheet) and the masks with their confidence."""
    n = len(paths)
    steps = {"table": 0, "grabcut": 1, "hull": n + 1}  # one bar: the table plane, n GrabCuts, the hull
    report("masks", 0, n + 2)
    images = [to_uint8(read_image(p)[0]) for p in paths]
    result = auto_masks(images, cameras, points[frame.inliers], bbox=frame.bbox,
                        progress=lambda stage, done, total: report("masks", steps[stage] + done, n + 2))
    return write_masks(result.masks, [p.name for p in paths], folder), images, result


def calibrate_photos(
    images: str | Path,
    out: str | Path,
    masks: str | Path | None = None,
    shared_intrinsics: bool = True,
    intrinsics: Intrinsics | None = None,
    matcher: str = "auto",
    downscale: float = 1.0,
    max_size: int | None = None,
    progress: Progress | None = None,
) -> PhotoCalibration:
    """Estimate the cameras of photos by SfM and write the calibrated scene folder ``out``.

    Args:
        images: folder of photos (or a folder holding images/).
        out: scene folder to write: images/, masks/, cams.json (as ``write_scene``), plus
            ``sparse.ply`` (sparse points, world frame) and sfm/ (COLMAP model and log).
        masks: None (a masks/ folder beside the photos if there is one, else no masks),
            ``"auto"`` (see calib.automask; also writes ``masks.json``, each mask's confidence, and
            the contact sheet ``masks.png``), or a folder of masks.
        shared_intrinsics: one camera for all photos, or one per photo.
        intrinsics: known intrinsics (e.g. from :func:`checkerboard_intrinsics`), held fixed.
        matcher: 'auto', 'exhaustive' or 'sequential' (see ``estimate_cameras``).
        downscale, max_size: as in ``load_scene``.
        progress: optional callable(stage, done, total), stages 'features', 'matching',
            'mapping', 'refining', 'masks', 'scene'.
    Returns:
        :class:`PhotoCalibration`. The world frame is object-centred, z up (the cameras' mean
        image-up), with the object's radius 1. Unregistered photos are left out of the scene.
    Raises:
        DvrError before anything is written in ``out``: no or too few photos, mixed sizes with
        shared intrinsics, SfM failure, bad masks, an ``out`` that is not a scene folder.
    """
    start = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    out = Path(out)
    images_dir = images_folder(Path(images).resolve())  # the scene is assembled in a temporary folder
    paths = list_images(images_dir)
    if masks is None:
        masks = sibling_masks_folder(images_dir)
    elif str(masks) != AUTO and not Path(masks).is_dir():
        raise DvrError("masks folder does not exist (give a folder of masks, or 'auto')", masks)
    check_replaceable(out, "scene", [images_dir, None if masks is None or str(masks) == AUTO else Path(masks)])

    with tempfile.TemporaryDirectory(prefix="dvr-calibrate-") as tmp:
        tmp = Path(tmp)
        sfm = estimate_cameras(paths, tmp / SFM_DIR, shared_intrinsics, None if intrinsics is None else
                               intrinsics.camera(), matcher, report)
        frame = choose_frame(sfm.cameras, sfm.points, sfm.point_track_lengths)
        cameras = [frame.camera(c) for c in sfm.cameras]
        points = frame.points(sfm.points)
        registered = [images_dir / name for name in sfm.registered]
        timings = dict(sfm.timings)

        mask_files, automatic = [None] * len(registered), None
        if str(masks) == AUTO:
            t0 = time.perf_counter()
            mask_files, photos, automatic = _masks_in_raw_images(registered, cameras, frame, points, tmp / "masks",
                                                                 report)
            timings["masks"] = time.perf_counter() - t0
            masks = None  # the temporary cams.json names them

        t0 = time.perf_counter()
        report("scene", 0, 1)
        cams_json = tmp / CAMS_FILE
        entries = [cam.to_json(str(path), None if m is None else str(m))
                   for cam, path, m in zip(cameras, registered, mask_files)]
        # With masks, normalise by their visual hull: the points' box misses what the photos barely see.
        bbox = None if masks is not None or mask_files[0] is not None else frame.bbox.tolist()
        cams_json.write_text(json.dumps({"convention": "opencv", "cameras": entries, "bbox": bbox}))
        scene = load_scene(cams_json, None, masks, downscale, max_size)
        inputs = scene_inputs(scene)  # the photos and masks read (before the record names OUT/sfm as the cameras)
        scene.meta.update(format="photos (structure from motion)", cameras_file=str(out / SFM_DIR / "sparse"),
                          images_dir=str(images_dir),
                          masks=AUTO if mask_files[0] is not None else scene.meta["masks"])
        with scene_folder(out, inputs) as folder:  # swapped in for out once complete
            write_scene_files(scene, folder)
            write_points_ply(folder / SPARSE_FILE, points, sfm.point_colors)
            (folder / SFM_DIR).mkdir()
            for name in SFM_KEPT:
                shutil.move(str(tmp / SFM_DIR / name), str(folder / SFM_DIR / name))
            if automatic is not None:
                write_confidence(folder, [p.name for p in registered], automatic.confidence)
                write_contact_sheet(folder / CONTACT_SHEET, photos, automatic.masks, [p.name for p in registered],
                                    automatic.confidence)
        report("scene", 1, 1)
        timings["scene"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    return PhotoCalibration(out, scene, sfm, frame, points, timings)


def read_sparse_points(scene_dir: str | Path) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The points :func:`calibrate_photos` wrote into ``scene_dir`` (SPARSE_FILE): (P, 3) world
    points and (P, 3) uint8 colours (None when uncoloured); None when the folder has none."""
    path = Path(scene_dir) / SPARSE_FILE
    if not path.is_file():
        return None
    cloud = read_trimesh(path)
    colors = getattr(cloud, "colors", None)
    return np.asarray(cloud.vertices), None if colors is None or len(colors) == 0 else np.asarray(colors)[:, :3]


def parse_pattern(text: str) -> tuple[int, int]:
    """'9x6' -> (9, 6): inner corners per row and per column (each >= 2)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or min(int(match[1]), int(match[2])) < 2:
        raise DvrError(f"--pattern '{text}': give the board's inner corners as COLSxROWS, e.g. 9x6 "
                       "(a board of 10x7 squares)")
    return int(match[1]), int(match[2])


def checkerboard_intrinsics(folder: str | Path, pattern: str, square: float, out: str | Path,
                            progress: Callable[[int, int], None] | None = None) -> Intrinsics:
    """Calibrate K and distortion from the checkerboard photos in ``folder``; write ``out`` (intrinsics.json)."""
    size = parse_pattern(pattern)
    if not square > 0:
        raise DvrError(f"--square must be a positive length (got {square})")
    if Path(out).is_dir():
        raise DvrError("is a folder; give the intrinsics file to write, e.g. intrinsics.json", out)
    check_file_target(out)
    result = calibrate_checkerboard(list_images(images_folder(Path(folder))), size, square, progress)
    result.save(out)
    return result
