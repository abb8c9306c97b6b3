"""Camera poses and intrinsics from photos alone: structure from motion with pycolmap (CPU).

Pipeline: SIFT features -> matching (exhaustive up to ``RETRIEVAL_MIN`` images, each photo with
its most similar ones up to ``EXHAUSTIVE_MAX`` (calib.pairs), sequential above, for ordered video
frames) -> incremental mapping -> the largest model. Intrinsics use COLMAP's
OPENCV model (fx, fy, cx, cy, k1, k2, p1, p2), one camera shared by all images by default.
Incremental mapping runs with the distortion held at zero (refining it from the first two views
is ill-posed: measured focal lengths 2-6x off and 2 of 24 images registered); a final robust
global bundle adjustment then refines poses, focal length and (given enough observations)
distortion from all tracks. Known intrinsics (``intrinsics=``) are held fixed
throughout.

COLMAP puts the centre of the top-left pixel at (0.5, 0.5); dvr (OpenCV) at (0, 0), so
cx_opencv = cx_colmap - 0.5 (and the reverse for known intrinsics).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ..errors import DvrError
from ..files import atomic_path
from ..scene.camera import Camera
from .pairs import largest_scale, overlap_counts, retrieval_pairs

#: Above RETRIEVAL_MIN images, exhaustive matching (n^2 pairs) gives way to matching each photo
#: with its most similar ones (calib.pairs); above EXHAUSTIVE_MAX, to sequential matching.
RETRIEVAL_MIN = 30
EXHAUSTIVE_MAX = 100
MATCHERS = ("auto", "exhaustive", "retrieval", "sequential")
#: The retrieval's list of pairs, written beside COLMAP's database.
PAIRS_FILE = "pairs.txt"
#: Minimum registered images for a usable reconstruction.
MIN_REGISTERED = 3
#: Feature-extraction progress is reported in about this many steps (each a pycolmap call).
EXTRACTION_STEPS = 10
#: COLMAP's defaults (100 inliers to start a model, 30 to add an image) suit multi-megapixel
#: photos; small or sparsely textured images give 30-70 inliers per good pair.
INIT_MIN_INLIERS = 30
ABS_POSE_MIN_INLIERS = 15
#: Below this many observations the final adjustment keeps distortion at zero: on the 320x240
#: example (~5k observations) freeing k1, k2, p1, p2 fitted noise (k2 up to 0.8) and doubled
#: the pose error. Real photos give tens of thousands.
MIN_OBSERVATIONS_FOR_DISTORTION = 20000
#: Seed of COLMAP's RANSAC (two-view verification, registration): the same photos give the same
#: cameras run after run (COLMAP draws a fresh seed by default).
RANDOM_SEED = 0

#: progress(stage, done, total) with stage in 'features', 'matching', 'mapping', 'refining'.
Progress = Callable[[str, int, int], None]


@dataclass
class SfmResult:
    """The largest reconstruction, in COLMAP's (arbitrary) world frame and scale.

    Attributes:
        cameras: one :class:`Camera` per registered image, in input order (OpenCV convention,
            ``dist`` from the OPENCV model, ``name`` = the image's file name).
        registered: file names of the registered images (same order as ``cameras``).
        unregistered: file names of the images the model does not contain.
        points: (P, 3) sparse 3D points.
        point_colors: (P, 3) float RGB in [0, 1].
        point_track_lengths: (P,) int number of images observing each point.
        reprojection_error: mean reprojection error in pixels.
        timings: seconds per stage ('features', 'matching', 'mapping', 'refining').
    """

    cameras: list[Camera]
    registered: list[str]
    unregistered: list[str]
    points: np.ndarray
    point_colors: np.ndarray
    point_track_lengths: np.ndarray
    reprojection_error: float
    timings: dict = field(default_factory=dict)


@contextlib.contextmanager
def quiet_colmap(log_path: Path):
    """Keep pycolmap's logging off the terminal for the block.

    glog's level is raised to FATAL, and file descriptor 2 (where glog and Ceres write from C++)
    goes to ``log_path``, because some calls (bundle_adjustment) log regardless of the level.
    Standard output, where rich draws progress, is untouched.
    """
    import pycolmap

    previous = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = pycolmap.logging.FATAL
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield pycolmap
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            pycolmap.logging.minloglevel = previous


def image_sizes(image_paths: list[Path]) -> list[tuple[int, int]]:
    """(width, height) of each image from its header; DvrError naming an unreadable file."""
    sizes = []
    for path in image_paths:
        try:
            with Image.open(path) as im:
                sizes.append(im.size)
        except FileNotFoundError:
            raise DvrError("image not found", path) from None
        except OSError as exc:
            raise DvrError(f"cannot read image ({exc})", path) from None
    return sizes


def check_inputs(image_paths: list[Path], shared_intrinsics: bool, intrinsics: Camera | None) -> tuple[int, int]:
    """Reject what SfM cannot calibrate before any file is written; returns the (first) image size."""
    if len(image_paths) < MIN_REGISTERED:
        where = Path(image_paths[0]).parent if image_paths else None
        raise DvrError(
            f"{len(image_paths)} image(s) given; calibration needs at least {MIN_REGISTERED} "
            "overlapping photos (20+ around the object is typical)",
            where,
        )
    names = [Path(p).name for p in image_paths]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DvrError(f"two images share the file name '{dup}'; names identify views", Path(image_paths[0]).parent)
    sizes = image_sizes(image_paths)
    if shared_intrinsics or intrinsics is not None:
        for path, size in zip(image_paths, sizes):
            if size != sizes[0]:
                raise DvrError(
                    f"image is {size[0]}x{size[1]} but {Path(image_paths[0]).name} is {sizes[0][0]}x{sizes[0][1]}; "
                    "shared intrinsics need one image size (resize the photos, or calibrate each image's camera "
                    "separately)",
                    path,
                )
    if intrinsics is not None:
        w, h = sizes[0]
        if abs(intrinsics.width / intrinsics.height - w / h) > 1e-3:
            raise DvrError(
                f"intrinsics are for {intrinsics.width}x{intrinsics.height} images, the photos are "
                f"{w}x{h} (a different aspect ratio)",
                image_paths[0],
            )
    return sizes[0]


def colmap_params(camera: Camera) -> tuple[str, list[float]]:
    """A dvr camera's intrinsics as a COLMAP model name and parameter list (pixel centre +0.5)."""
    K = camera.K
    dist = camera.dist if camera.dist is not None else np.zeros(5)
    base = [K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5, *dist[:4]]
    if dist[4] != 0:  # FULL_OPENCV's rational term with k4..k6 = 0 is OpenCV's 5-parameter model
        return "FULL_OPENCV", base + [dist[4], 0.0, 0.0, 0.0]
    return "OPENCV", base


def opencv_camera(colmap_camera, image) -> Camera:
    """A registered pycolmap image (OPENCV or FULL_OPENCV camera) -> dvr Camera."""
    p = np.asarray(colmap_camera.params, dtype=np.float64)
    fx, fy, cx, cy = p[:4]
    dist = np.zeros(5)
    dist[:4] = p[4:8]
    if colmap_camera.model_name == "FULL_OPENCV":
        dist[4] = p[8]
    K = np.array([[fx, 0, cx - 0.5], [0, fy, cy - 0.5], [0, 0, 1.0]])
    pose = image.cam_from_world()
    return Camera(
        K,
        pose.rotation.matrix(),
        np.asarray(pose.translation),
        colmap_camera.width,
        colmap_camera.height,
        dist=dist,
        name=Path(image.name).name,
    )


def _failure_hint(database: Path, n_images: int) -> str:
    """What the database says went wrong, as advice the user can act on."""
    import pycolmap

    db = pycolmap.Database.open(str(database))
    try:
        per_image = db.num_keypoints() / max(n_images, 1)
        pairs = db.num_verified_image_pairs()
    finally:
        db.close()
    if per_image < 100:
        return (
            f"only {per_image:.0f} features per image: the photos have too little texture "
            "(add texture to the object or backdrop, light it evenly, avoid blur)"
        )
    return (
        f"{pairs} image pairs matched: take photos with more overlap (neighbouring shots 10-20 degrees apart, "
        "the object filling the frame), or give known intrinsics (--intrinsics)"
    )


def estimate_cameras(
    image_paths: list[Path],
    work_dir: Path,
    shared_intrinsics: bool = True,
    intrinsics: Camera | None = None,
    matcher: str = "auto",
    progress: Progress | None = None,
    feature_size: int | None = None,
) -> SfmResult:
    """Calibrate photos by structure from motion.

    Args:
        image_paths: the photos (at least 3; one size when intrinsics are shared or given).
        work_dir: scratch folder for COLMAP's ``database.db``, ``sparse/`` model, ``pairs.txt`` and
            ``colmap.log``. If SfM fails they are removed again (the folder too if it was new).
        shared_intrinsics: one camera for all photos (same lens and zoom) or one per photo.
        intrinsics: known K and distortion (e.g. from :func:`calibrate_checkerboard`), held fixed;
            rescaled when the photos have the same aspect ratio but another size.
        matcher: 'auto' (exhaustive up to RETRIEVAL_MIN images, retrieval up to EXHAUSTIVE_MAX,
            else sequential), 'exhaustive', 'retrieval' (each photo with its most similar ones,
            calib.pairs) or 'sequential' (ordered frames of a video).
        progress: optional callable(stage, done, total) for a progress bar.
        feature_size: SIFT runs on the photos shrunk to this longer side (COLMAP's
            ``max_image_size``; the keypoints are scaled back to the photos' pixels): the working
            size of ``--max-size`` / ``--downscale``, so features of a 2 MP phone photo cost what
            the scene at its working size does. None: COLMAP's default (3200).
    Returns:
        :class:`SfmResult` of the largest model (COLMAP's frame; see calib.frame to normalise).
    Raises:
        DvrError: too few images, mixed sizes with shared intrinsics, or SfM registered fewer
            than 3 images (with what to try).
    """
    if matcher not in MATCHERS:
        raise DvrError(f"matcher must be {', '.join(MATCHERS[:-1])} or {MATCHERS[-1]}, not '{matcher}'")
    image_paths = [Path(p).resolve() for p in image_paths]
    width, height = check_inputs(image_paths, shared_intrinsics, intrinsics)
    report = progress or (lambda stage, done, total: None)

    work_dir = Path(work_dir)
    created = not work_dir.exists()
    database, sparse = work_dir / "database.db", work_dir / "sparse"
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        database.unlink(missing_ok=True)
        shutil.rmtree(sparse, ignore_errors=True)
        sparse.mkdir()
        result = _run_sfm(
            image_paths, database, sparse, (width, height), shared_intrinsics, intrinsics, matcher, report, feature_size
        )
    except BaseException:
        if created:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            for path in (database, work_dir / "colmap.log", work_dir / PAIRS_FILE):
                path.unlink(missing_ok=True)
            shutil.rmtree(sparse, ignore_errors=True)
        raise
    return result


def _run_sfm(
    image_paths, database, sparse, size, shared_intrinsics, intrinsics, matcher, report, feature_size
) -> SfmResult:
    root = Path(os.path.commonpath([p.parent for p in image_paths]))
    names = [str(p.relative_to(root)) for p in image_paths]
    timings = {}
    with quiet_colmap(sparse.parent / "colmap.log") as pycolmap:
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "OPENCV"
        mapping = pycolmap.IncrementalPipelineOptions()
        mapping.min_model_size = MIN_REGISTERED
        mapping.mapper.init_min_num_inliers = INIT_MIN_INLIERS
        mapping.mapper.abs_pose_min_num_inliers = ABS_POSE_MIN_INLIERS
        mapping.ba_refine_extra_params = False
        mapping.random_seed = mapping.mapper.random_seed = RANDOM_SEED
        mapping.mapper.abs_pose_refine_extra_params = False
        if intrinsics is not None:
            known = intrinsics.resized(*size) if (intrinsics.width, intrinsics.height) != size else intrinsics
            reader.camera_model, params = colmap_params(known)
            reader.camera_params = ",".join(repr(float(v)) for v in params)
            mapping.ba_refine_focal_length = False
            mapping.mapper.abs_pose_refine_focal_length = False
        mode = pycolmap.CameraMode.SINGLE if shared_intrinsics else pycolmap.CameraMode.PER_IMAGE

        start = time.perf_counter()
        pycolmap.Database.open(str(database)).close()
        pycolmap.import_images(str(database), str(root), mode, names, reader)
        extraction = pycolmap.FeatureExtractionOptions()
        if feature_size is not None:
            extraction.max_image_size = int(feature_size)
        step = max(1, math.ceil(len(names) / EXTRACTION_STEPS))
        for i in range(0, len(names), step):
            # Images are already in the database, so each call reuses their camera.
            pycolmap.extract_features(
                str(database),
                str(root),
                image_names=names[i : i + step],
                camera_mode=mode,
                reader_options=reader,
                extraction_options=extraction,
                device=pycolmap.Device.cpu,
            )
            report("features", min(i + step, len(names)), len(names))
        timings["features"] = time.perf_counter() - start

        start = time.perf_counter()
        report("matching", 0, 1)
        verification = pycolmap.TwoViewGeometryOptions()
        verification.ransac.random_seed = RANDOM_SEED
        match_pairs(pycolmap, database, len(names), matcher, verification)
        report("matching", 1, 1)
        timings["matching"] = time.perf_counter() - start

        start = time.perf_counter()
        registered = [0]

        def next_image():
            registered[0] += 1
            report("mapping", min(registered[0], len(names)), len(names))

        report("mapping", 0, len(names))
        models = pycolmap.incremental_mapping(
            str(database), str(root), str(sparse), mapping, next_image_callback=next_image
        )
        timings["mapping"] = time.perf_counter() - start
        best = max(models.values(), key=lambda r: r.num_reg_images(), default=None)
        n_reg = 0 if best is None else best.num_reg_images()
        if n_reg < MIN_REGISTERED:
            raise DvrError(
                f"structure from motion registered {n_reg} of {len(names)} images (need {MIN_REGISTERED}): "
                + _failure_hint(database, len(names)),
                root,
            )

        start = time.perf_counter()
        report("refining", 0, 1)
        refine(pycolmap, best, intrinsics is None, shared_intrinsics)
        report("refining", 1, 1)
        timings["refining"] = time.perf_counter() - start
        best.write(str(sparse))
        return _to_result(best, image_paths, names, timings)


def resolve_matcher(matcher: str, n_images: int) -> str:
    """The matching that ``matcher`` ('auto' or one of MATCHERS) means for ``n_images`` photos."""
    if matcher != "auto":
        return matcher
    return "exhaustive" if n_images <= RETRIEVAL_MIN else "retrieval" if n_images <= EXHAUSTIVE_MAX else "sequential"


def match_pairs(pycolmap, database: Path, n_images: int, matcher: str, verification, matching=None) -> None:
    """Match the features in ``database`` as ``resolve_matcher(matcher, n_images)`` says;
    ``matching``: FeatureMatchingOptions (default: COLMAP's)."""
    how = resolve_matcher(matcher, n_images)
    options = {
        "matching_options": matching or pycolmap.FeatureMatchingOptions(),
        "verification_options": verification,
        "device": pycolmap.Device.cpu,
    }
    if how == "retrieval":
        pycolmap.match_image_pairs(str(database), pairing_options=_retrieval_pairing(pycolmap, database), **options)
    else:
        (pycolmap.match_sequential if how == "sequential" else pycolmap.match_exhaustive)(str(database), **options)


def _descriptors(stored) -> np.ndarray:
    """(N, 128) uint8 of a database's descriptors (pycolmap 4 wraps them in FeatureDescriptors)."""
    return np.asarray(getattr(stored, "data", stored))


def _retrieval_pairing(pycolmap, database: Path):
    """ImportedPairingOptions naming calib.pairs' choice of pairs (a list file beside ``database``)."""
    db = pycolmap.Database.open(str(database))
    try:
        images = sorted(db.read_all_images(), key=lambda image: image.image_id)
        subsets = [
            largest_scale(np.asarray(db.read_keypoints(im.image_id)), _descriptors(db.read_descriptors(im.image_id)))
            for im in images
        ]
    finally:
        db.close()
    pairs = retrieval_pairs(overlap_counts(subsets))
    listing = database.with_name(PAIRS_FILE)
    listing.write_text("".join(f"{images[i].name} {images[j].name}\n" for i, j in pairs))
    options = pycolmap.ImportedPairingOptions()
    options.match_list_path = str(listing)
    return options


def refine(pycolmap, rec, free_intrinsics: bool, shared: bool) -> None:
    """Final global bundle adjustment with a robust (Cauchy) loss, in place.

    Incremental mapping's least squares lets a few bad matches pull the poses: on the fine
    example (320x240, 40 views) the Cauchy loss cut the mean rotation error from 1.0 to 0.4
    degrees. Its scale is 1.5 x the median track error, so typical residuals stay near quadratic
    whatever the image size. With one shared camera the principal point is freed too (the
    example's 1.5 px offset alone gave 0.2 degrees of rotation error), and distortion once there
    are enough observations to pin it down.
    """
    errors = np.array([p.error for p in rec.points3D.values()])
    n_obs = sum(p.track.length() for p in rec.points3D.values())
    ba = pycolmap.BundleAdjustmentOptions()
    ba.refine_focal_length = free_intrinsics
    ba.refine_principal_point = free_intrinsics and shared
    ba.refine_extra_params = free_intrinsics and shared and n_obs >= MIN_OBSERVATIONS_FOR_DISTORTION
    ba.print_summary = False
    ba.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    ba.ceres.loss_function_scale = float(max(1.5 * np.median(errors), 0.1))
    pycolmap.bundle_adjustment(rec, ba)
    rec.update_point_3d_errors()


def _to_result(rec, image_paths: list[Path], names: list[str], timings: dict) -> SfmResult:
    by_name = {image.name: image for image in rec.images.values() if image.has_pose}
    cameras, registered, unregistered = [], [], []
    for path, name in zip(image_paths, names):
        if name in by_name:
            image = by_name[name]
            cameras.append(opencv_camera(rec.cameras[image.camera_id], image))
            registered.append(path.name)
        else:
            unregistered.append(path.name)
    points = rec.points3D.values()
    xyz = np.array([p.xyz for p in points], dtype=np.float64).reshape(-1, 3)
    rgb = np.array([p.color for p in points], dtype=np.float64).reshape(-1, 3) / 255.0
    tracks = np.array([p.track.length() for p in points], dtype=np.int64)
    return SfmResult(
        cameras, registered, unregistered, xyz, rgb, tracks, float(rec.compute_mean_reprojection_error()), timings
    )


def write_points_ply(path: str | Path, points: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Write (P, 3) points with optional (P, 3) RGB in [0, 1] as a PLY point cloud (for inspection)."""
    from ..runtime import open3d

    o3d = open3d()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64).reshape(-1, 3)))
    if colors is not None:
        cloud.colors = o3d.utility.Vector3dVector(np.clip(np.asarray(colors, dtype=np.float64), 0, 1).reshape(-1, 3))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".tmp.ply") as tmp:  # open3d picks the format from the name
        if not o3d.io.write_point_cloud(str(tmp), cloud):
            raise DvrError("cannot write point cloud", path)
    return path
