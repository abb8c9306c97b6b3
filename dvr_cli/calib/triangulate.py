"""Sparse surface points of photos whose cameras are known: SIFT features, matching, and
triangulation with the poses held fixed (pycolmap's ``triangulate_points``, CPU).

A point seen by a camera tells more than where the surface is: the segment from that camera to
the point is empty. That is what the fit uses them for (a concavity, such as a courtyard, that
the masks cannot carve; DVR, Niemeyer et al. 2020, Sec. 4.3 fits to the sparse depth of SfM
keypoints). Only points that several views agree on are kept: seen by at least ``MIN_TRACK``
views, reprojected within ``MAX_ERROR_PX``.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..files import atomic_path
from ..scene.camera import Camera
from .sfm import RANDOM_SEED, colmap_params, match_pairs, quiet_colmap

#: Views a point must be seen by, and its largest mean reprojection error (pixels).
MIN_TRACK = 3
MAX_ERROR_PX = 1.5


@dataclass
class SparsePoints:
    """Triangulated points and who saw them.

    Attributes:
        points: (P, 3) world points.
        view: (O,) int index (into the cameras given) of the view of each observation.
        point: (O,) int index into ``points`` of each observation.
        seconds: wall time of features, matching and triangulation.
    """

    points: np.ndarray
    view: np.ndarray
    point: np.ndarray
    seconds: float = 0.0

    @classmethod
    def empty(cls) -> "SparsePoints":
        return cls(np.zeros((0, 3)), np.zeros(0, np.int64), np.zeros(0, np.int64))

    def save(self, path: str | Path) -> None:
        """Write an .npz atomically (a temporary file, then renamed)."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, points=self.points, view=self.view, point=self.point, seconds=self.seconds)

    @classmethod
    def load(cls, path: str | Path) -> "SparsePoints":
        with np.load(path) as data:
            return cls(data["points"], data["view"], data["point"], float(data["seconds"]))


def triangulate(images: list[np.ndarray], cameras: list[Camera], workdir: str | Path | None = None) -> SparsePoints:
    """Sparse points of ``images`` (per view (H, W, 3) uint8 RGB, as photographed) seen by the
    known ``cameras`` (world frame, ``dist`` applied in the raw images). Runs in ``workdir``
    (a temporary folder by default; COLMAP's log lands there)."""
    if len(images) < MIN_TRACK:
        return SparsePoints.empty()
    with tempfile.TemporaryDirectory() as tmp:
        return _triangulate(images, cameras, Path(workdir or tmp))


def _triangulate(images: list[np.ndarray], cameras: list[Camera], root: Path) -> SparsePoints:
    start = time.perf_counter()
    image_dir, database, sparse = root / "images", root / "database.db", root / "sparse"
    image_dir.mkdir(parents=True, exist_ok=True)
    sparse.mkdir(exist_ok=True)
    database.unlink(missing_ok=True)
    names = [f"{k:05d}.png" for k in range(len(images))]
    for name, image in zip(names, images):
        Image.fromarray(np.ascontiguousarray(image[..., :3])).save(image_dir / name)
    with quiet_colmap(root / "colmap.log") as pycolmap:
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "OPENCV"
        pycolmap.Database.open(str(database)).close()
        pycolmap.import_images(str(database), str(image_dir), pycolmap.CameraMode.PER_IMAGE, names, reader)
        pycolmap.extract_features(
            str(database),
            str(image_dir),
            image_names=names,
            camera_mode=pycolmap.CameraMode.PER_IMAGE,
            reader_options=reader,
            device=pycolmap.Device.cpu,
        )
        verification = pycolmap.TwoViewGeometryOptions()
        verification.ransac.random_seed = RANDOM_SEED
        matching = pycolmap.FeatureMatchingOptions()
        matching.guided_matching = True  # DTU 24, 42 views at 400x300: 11.6k observations, not 7.8k
        match_pairs(pycolmap, database, len(names), "auto", verification, matching)

        rec = pycolmap.Reconstruction()
        db = pycolmap.Database.open(str(database))
        view_of = {}
        for image in db.read_all_images():
            k = names.index(image.name)
            view_of[image.image_id] = k
            camera = db.read_camera(image.camera_id)
            camera.model, camera.params = _model_and_params(pycolmap, cameras[k])
            db.update_camera(camera)
            rec.add_camera_with_trivial_rig(camera)
            pose = pycolmap.Rigid3d(pycolmap.Rotation3d(cameras[k].R), cameras[k].t.reshape(3, 1))
            rec.add_image_with_trivial_frame(
                pycolmap.Image(name=image.name, camera_id=image.camera_id, image_id=image.image_id), pose
            )
        db.close()
        options = pycolmap.IncrementalPipelineOptions()
        options.random_seed = options.mapper.random_seed = RANDOM_SEED
        rec = pycolmap.triangulate_points(rec, str(database), str(image_dir), str(sparse), options=options)

    points, view, point = [], [], []
    for p in rec.points3D.values():
        track = [view_of[e.image_id] for e in p.track.elements]
        if len(set(track)) < MIN_TRACK or p.error > MAX_ERROR_PX:
            continue
        view += track
        point += [len(points)] * len(track)
        points.append(np.asarray(p.xyz, dtype=np.float64))
    if not points:
        return SparsePoints.empty()
    return SparsePoints(
        np.array(points), np.array(view, np.int64), np.array(point, np.int64), time.perf_counter() - start
    )


def _model_and_params(pycolmap, camera: Camera):
    model, params = colmap_params(camera)
    return getattr(pycolmap.CameraModelId, model), np.asarray(params, dtype=np.float64)
