"""Automatic masks for a loaded scene, whatever gave its cameras (SfM, or a camera file).

The masks are cut on the scene's own images: undistorted and resized to the working size
(``--max-size`` / ``--downscale``), never above it (on a 50-photo 2 MP phone capture, masks at
the photos' full size took 299 s at 540x960 and more than 20 minutes at 2 MP). The sparse points
come from SfM, or are triangulated with the given cameras held fixed (:mod:`.triangulate`, as the
fit's sight lines are); the object's points are the ones the cameras look at
(:func:`.frame.choose_frame`), in whose unit-radius frame :func:`.automask.auto_masks` runs.

Masks that disagree with the others, or cover most of their frame, are distrusted (confidence
under :data:`.contact.LOW_CONFIDENCE`); when more than ``MAX_DISTRUSTED`` of them are, the scene
keeps no masks at all: a fit then covers the region of interest as a whole rather than the hull
of masks that hold the room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..errors import DvrError
from ..files import to_uint8
from ..scene import Scene
from ..scene.normalise import choose_normalization
from .automask import AutoMasks, auto_masks
from .contact import LOW_CONFIDENCE
from .frame import choose_frame
from .triangulate import triangulate

#: Share of distrusted masks above which the scene is left without masks.
MAX_DISTRUSTED = 0.5
#: Fewest sparse points the masks are cut from.
MIN_POINTS = 3
#: masks.json's method: cut from the sparse points, or a quick fit's object (the fallback).
AUTO_METHOD, SEPARATED_METHOD = "auto", "separated"
#: Normalisations that came from the cameras alone, a box around sparse points or masks that the
#: automatic ones replace: the automatic masks' visual hull replaces them. A camera file's own
#: (DTU's scale_mat, a calibrated scene's) is kept.
REPLACEABLE_NORMALISATIONS = ("cameras", "bbox", "visual_hull")

Progress = Callable[[str, int, int], None]


@dataclass
class SceneMasks:
    """A scene with automatic masks, and how far they are trusted.

    Attributes:
        scene: the input scene with the masks set, or with none when most are distrusted.
        auto: the masks and their confidence (AutoMasks), in the scene's pixels.
        photos: per view (H, W, 3) uint8, the images the masks were cut on (for the contact sheet).
        distrusted: names of the views whose mask's confidence is under LOW_CONFIDENCE.
        used: whether the scene keeps the masks.
        method: 'auto' (cut from the sparse points), or 'separated' (a quick fit's object, the
            fallback of distrusted ones).
    """

    scene: Scene
    auto: AutoMasks
    photos: list[np.ndarray]
    distrusted: list[str]
    used: bool
    method: str = "auto"

    @property
    def reason(self) -> str:
        """One line saying whether the masks are used, and why not."""
        n = len(self.scene)
        if self.used:
            source = "" if self.method == AUTO_METHOD else " (a quick fit's object: the sparse points' were distrusted)"
            return f"automatic masks{source}: {n - len(self.distrusted)} of {n} trusted"
        return (
            f"automatic masks are not used: {len(self.distrusted)} of {n} are distrusted (they disagree with "
            "the others or cover most of their photo); the scene is kept without masks"
        )


#: Masks from elsewhere for a scene whose automatic masks are distrusted: per view (H, W) bool and
#: (N_v,) confidences, or None (dvr_cli.fit.quick_masks: a quick fit's object, apart from its supports).
Fallback = Callable[[Scene], "tuple[list[np.ndarray], np.ndarray] | None"]


def mask_scene(
    scene: Scene,
    points: np.ndarray | None = None,
    track_lengths: np.ndarray | None = None,
    progress: Progress | None = None,
    fallback: Fallback | None = None,
) -> SceneMasks:
    """Cut automatic masks on ``scene``'s views (their pixels, their cameras).

    Args:
        scene: views with world cameras (undistorted) and images; their masks are replaced.
        points: (P, 3) sparse world points of the capture (object and background); None to
            triangulate them from the views with the cameras held fixed.
        track_lengths: (P,) views per point (None: every point counts as seen by 3).
        progress: optional callable(stage, done, total): 'points' (triangulation), then
            auto_masks' 'table', 'grabcut', 'hull'.
        fallback: called when most masks are distrusted; its masks replace them when it gives some
            and most of those are trusted (the scene's meta then says which).
    Returns:
        :class:`SceneMasks`. A scene that keeps its masks gets the trusted masks' visual hull as
        its normalisation unless its camera file gave one.
    """
    report = progress or (lambda stage, done, total: None)
    photos = [to_uint8(v.image) for v in scene.views]
    cameras = [v.camera for v in scene.views]
    if points is None:
        report("points", 0, 1)
        sparse = triangulate(photos, cameras)
        points, track_lengths = sparse.points, np.bincount(sparse.point, minlength=len(sparse.points))
        report("points", 1, 1)
    if track_lengths is None:
        track_lengths = np.full(len(points), 3)
    if len(points) < MIN_POINTS:
        raise DvrError(f"{len(points)} sparse points: automatic masks need the sparse points of the object")
    frame = choose_frame(cameras, points, track_lengths)
    auto = auto_masks(
        photos,
        [frame.camera(c) for c in cameras],
        frame.points(points[frame.inliers]),
        bbox=frame.bbox,
        progress=progress,
        support=frame.plane,
        ambiguous=frame.ambiguous,
    )
    distrusted = [v.name for v, c in zip(scene.views, auto.confidence) if c < LOW_CONFIDENCE]
    used = len(distrusted) <= MAX_DISTRUSTED * len(scene)
    method = AUTO_METHOD
    if not used and fallback is not None and (other := fallback(scene)) is not None:
        other_distrusted = [v.name for v, c in zip(scene.views, other[1]) if c < LOW_CONFIDENCE]
        if len(other_distrusted) <= MAX_DISTRUSTED * len(scene):
            auto = replace(auto, masks=other[0], confidence=other[1])
            distrusted, used, method = other_distrusted, True, SEPARATED_METHOD
    normalization, meta = scene.normalization, dict(scene.meta)
    if used and normalization.source in REPLACEABLE_NORMALISATIONS:
        trusted = np.flatnonzero(auto.confidence >= LOW_CONFIDENCE)  # a failed (empty) mask carves all away
        try:
            normalization, bbox = choose_normalization([cameras[k] for k in trusted], [auto.masks[k] for k in trusted])
            meta["bbox"] = np.asarray(bbox).tolist()
        except DvrError:  # masks that carve each other away: their hull is empty
            used, normalization = False, scene.normalization
    views = [replace(v, mask=m if used else None, mask_path=None) for v, m in zip(scene.views, auto.masks)]
    meta["masks"] = (
        {AUTO_METHOD: "auto", SEPARATED_METHOD: "auto (a quick fit's object)"}[method]
        if used
        else ("none (automatic masks distrusted)")
    )
    return SceneMasks(Scene(views, normalization, scene.source, meta), auto, photos, distrusted, used, method)
