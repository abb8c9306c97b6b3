"""Photos alone -> a calibrated scene folder; photos with cameras and no masks -> one with
automatic masks; checkerboard photos -> ``intrinsics.json``.

The photos-only path chains the calib pieces: structure from motion (:mod:`.sfm`, SIFT at the
working size), the object-centred frame (:mod:`.frame`), optional automatic masks
(:mod:`.scene_masks`). The SfM cameras, with their distortion, go into a temporary ``cams.json``
beside the work files, which is read back with ``load_scene``: undistortion, resizing and
normalisation are the very code the ``--cameras`` path runs, and the masks are cut on the
loaded scene, at its working size. The posed path (:func:`calibrate_posed`) loads the scene
from its camera file and cuts the masks the same way.

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
from ..files import read_trimesh
from ..ownership import check_file_target, check_replaceable, record_written
from ..scene import Scene, load_scene
from ..scene.image_paths import image_size, images_folder, list_images, sibling_masks_folder
from ..scene.write import CAMS_FILE, scene_folder, scene_inputs, write_scene_files
from .automask import write_confidence
from .checkerboard import Intrinsics, calibrate_checkerboard
from .contact import write_contact_sheet
from .frame import SceneFrame, choose_frame
from .scene_masks import Fallback, SceneMasks, mask_scene
from .sfm import SfmResult, estimate_cameras, write_points_ply

#: ``masks=`` value that asks for automatic masks.
AUTO = "auto"
SPARSE_FILE = "sparse.ply"
#: Photos-only with automatic masks: every photo with its mask outline and confidence.
CONTACT_SHEET = "masks.png"
#: Kept in OUT/sfm/: COLMAP's model (its own frame, open it with the COLMAP GUI) and log.
SFM_DIR = "sfm"
SFM_KEPT = ("sparse", "colmap.log")

Progress = Callable[[str, int, int], None]
#: One 'masks' bar over mask_scene's stages for n views: (done, total) of a stage -> (done, total)
#: of the bar: the points, the table plane, n GrabCuts, the hull.
MASK_STEPS = {
    "points": lambda done, total, n: (0, n + 3),
    "table": lambda done, total, n: (1 + done, n + 3),
    "grabcut": lambda done, total, n: (2 + done, n + 3),
    "hull": lambda done, total, n: (n + 2 + done, n + 3),
}


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
        masks: with ``masks="auto"``, the automatic masks and whether the scene keeps them.
    """

    out: Path
    scene: Scene
    sfm: SfmResult
    frame: SceneFrame
    points: np.ndarray
    timings: dict = field(default_factory=dict)
    masks: SceneMasks | None = None


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
    fallback: Fallback | None = None,
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
        fallback: with ``masks='auto'``, what gives masks when most automatic ones are distrusted
            (``mask_scene``'s: dvr_cli.fit.quick_masks.quick_fit_masks, a quick fit's object).
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
        sfm = estimate_cameras(
            paths,
            tmp / SFM_DIR,
            shared_intrinsics,
            None if intrinsics is None else intrinsics.camera(),
            matcher,
            report,
            working_size(paths, downscale, max_size),
        )
        frame = choose_frame(sfm.cameras, sfm.points, sfm.point_track_lengths)
        cameras = [frame.camera(c) for c in sfm.cameras]
        points = frame.points(sfm.points)
        registered = [images_dir / name for name in sfm.registered]
        timings = dict(sfm.timings)

        t0 = time.perf_counter()
        cams_json = tmp / CAMS_FILE
        entries = [cam.to_json(str(path)) for cam, path in zip(cameras, registered)]
        # Without masks the normalisation is the frame's box around the object points; masks give
        # their visual hull instead (the points' box misses what the photos barely see).
        bbox = frame.bbox.tolist() if masks is None or str(masks) == AUTO else None
        cams_json.write_text(json.dumps({"convention": "opencv", "cameras": entries, "bbox": bbox}))
        scene = load_scene(cams_json, None, None if str(masks) == AUTO else masks, downscale, max_size)
        inputs = scene_inputs(scene)  # the photos and masks read (before the record names OUT/sfm as the cameras)
        scene.meta.update(
            format="photos (structure from motion)",
            cameras_file=str(out / SFM_DIR / "sparse"),
            images_dir=str(images_dir),
        )
        timings["scene"] = time.perf_counter() - t0
        automatic = None
        if str(masks) == AUTO:
            t0 = time.perf_counter()
            automatic = mask_scene(
                scene,
                points,
                sfm.point_track_lengths,
                progress=lambda stage, done, total: report("masks", *MASK_STEPS[stage](done, total, len(scene))),
                fallback=fallback,
            )
            scene = automatic.scene
            timings["masks"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report("scene", 0, 1)
        with scene_folder(out, inputs) as folder:  # swapped in for out once complete
            write_scene_files(scene, folder)
            write_points_ply(folder / SPARSE_FILE, points, sfm.point_colors)
            (folder / SFM_DIR).mkdir()
            for name in SFM_KEPT:
                moved = Path(shutil.move(str(tmp / SFM_DIR / name), str(folder / SFM_DIR / name)))
                for path in [moved, *moved.rglob("*")] if moved.is_dir() else [moved]:
                    if path.is_file():
                        record_written(path)  # moved, not written through files.atomic_path
            if automatic is not None:
                write_mask_report(folder, automatic)
        report("scene", 1, 1)
        timings["scene"] += time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    return PhotoCalibration(out, scene, sfm, frame, points, timings, automatic)


def working_size(paths: list[Path], downscale: float, max_size: int | None) -> int | None:
    """The longer side (pixels) of the largest photo at the working size, None when it is the
    photos' own (no --downscale, no --max-size below it)."""
    longest = max(max(image_size(p)) for p in paths) if paths else 0
    factor = max(float(downscale), longest / max_size if max_size else 1.0)
    return round(longest / factor) if factor > 1 else None


def write_mask_report(out: Path, result: SceneMasks) -> None:
    """Beside the scene in ``out``: each automatic mask's confidence (masks.json) and the contact
    sheet (masks.png), also when the masks were distrusted and the scene keeps none."""
    names = [v.name for v in result.scene.views]
    write_confidence(out, names, result.auto.confidence, result.method)
    write_contact_sheet(out / CONTACT_SHEET, result.photos, result.auto.masks, names, result.auto.confidence)


def calibrate_posed(
    images: str | Path,
    cameras: str | Path,
    out: str | Path,
    downscale: float = 1.0,
    max_size: int | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    fallback: Fallback | None = None,
) -> SceneMasks:
    """Photos with known cameras and no masks -> the scene folder ``out`` with automatic masks.

    The scene is loaded at its working size (``downscale``, ``max_size``), its sparse points are
    triangulated with the cameras held fixed, and :func:`.scene_masks.mask_scene` cuts the masks;
    ``out`` gets the scene (without masks when most are distrusted), masks.json and masks.png.
    progress(stage, done, total): 'masks'; warn: as in ``load_scene``; fallback: as in ``mask_scene``.
    """
    report = progress or (lambda stage, done, total: None)
    check_replaceable(out, "scene", [Path(images), Path(cameras)])
    scene = load_scene(images, cameras, None, downscale, max_size, warn=warn)
    result = mask_scene(
        scene,
        progress=lambda stage, done, total: report("masks", *MASK_STEPS[stage](done, total, len(scene))),
        fallback=fallback,
    )
    with scene_folder(out, scene_inputs(scene)) as folder:  # swapped in for out once complete
        write_scene_files(result.scene, folder)
        write_mask_report(folder, result)
    return result


def auto_masked_scene(
    images: str | Path,
    cameras: str | Path,
    out: str | Path,
    downscale: float = 1.0,
    max_size: int | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    fallback: Fallback | None = None,
) -> tuple[Scene, SceneMasks]:
    """Photos with known cameras and no masks -> the scene to fit with automatic masks (``dvr fit
    --masks auto``): :func:`calibrate_posed` into the scene folder ``out``, then the scene loaded back
    from ``out`` (so that a fit records ``out`` as its input and a resume reloads it), and the
    masking's result (``used``, ``reason``, ``distrusted``: without masks when most are distrusted)."""
    result = calibrate_posed(images, cameras, out, downscale, max_size, progress, warn, fallback)
    return load_scene(out, warn=warn), result


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
        raise DvrError(
            f"--pattern '{text}': give the board's inner corners as COLSxROWS, e.g. 9x6 (a board of 10x7 squares)"
        )
    return int(match[1]), int(match[2])


def checkerboard_intrinsics(
    folder: str | Path, pattern: str, square: float, out: str | Path, progress: Callable[[int, int], None] | None = None
) -> Intrinsics:
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
