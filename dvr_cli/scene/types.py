"""In-memory scene: views (camera + pixels) and the normalisation into the unit cube."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .camera import Camera


@dataclass
class Normalization:
    """Similarity that maps the object's region into the unit cube [-1, 1]^3.

    unit = (world - center) / scale;  world = center + scale * unit.

    Attributes:
        center: (3,) world point mapped to the origin.
        scale: world units per unit-cube unit (half the side of the region's bounding cube).
        source: how it was found: 'bbox', 'scale_mat', 'visual_hull' or 'cameras'.
    """

    center: np.ndarray
    scale: float
    source: str = "bbox"

    def __post_init__(self):
        self.center = np.asarray(self.center, dtype=np.float64).reshape(3)
        self.scale = float(self.scale)

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) unit-cube points."""
        return (np.asarray(X, dtype=np.float64) - self.center) / self.scale

    def to_world(self, X: np.ndarray) -> np.ndarray:
        """(N, 3) unit-cube points -> (N, 3) world points."""
        return np.asarray(X, dtype=np.float64) * self.scale + self.center

    def camera_to_unit(self, camera: Camera) -> Camera:
        """The same camera in the unit-cube frame (pixels unchanged)."""
        return camera.similarity(self.center, self.scale)

    @property
    def bbox(self) -> np.ndarray:
        """(2, 3) world-space bounding box of the unit cube."""
        return np.stack([self.center - self.scale, self.center + self.scale])

    def to_json(self) -> dict:
        return {"center": self.center.tolist(), "scale": self.scale, "source": self.source}

    @classmethod
    def from_json(cls, data: dict) -> "Normalization":
        return cls(np.asarray(data["center"]), float(data["scale"]), data.get("source", "bbox"))


@dataclass
class View:
    """One calibrated photo.

    Attributes:
        camera: pinhole camera in world units (undistorted: ``camera.dist`` is None once loaded).
        image: (H, W, 3) float32 RGB in [0, 1].
        mask: (H, W) bool object mask (True = object), or None.
        depth: (H, W) float32 depth along the camera z axis in world units (0 = unknown), or None.
        image_path: the file the pixels came from.
        mask_path: the file the mask came from (None: no mask, or the image's alpha).
    """

    camera: Camera
    image: np.ndarray
    mask: np.ndarray | None = None
    depth: np.ndarray | None = None
    image_path: Path | None = None
    mask_path: Path | None = None

    @property
    def name(self) -> str:
        return self.camera.name


@dataclass
class Scene:
    """Calibrated views plus the normalisation of their world frame.

    Cameras in ``views`` stay in world units; :meth:`unit_cameras` gives them in the unit cube,
    which is the frame fields are fitted in.
    """

    views: list[View]
    normalization: Normalization
    source: Path | None = None
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.views)

    @property
    def has_masks(self) -> bool:
        return all(v.mask is not None for v in self.views)

    def unit_cameras(self) -> list[Camera]:
        return [self.normalization.camera_to_unit(v.camera) for v in self.views]

    def subset(self, indices) -> "Scene":
        """A scene with only the views at ``indices`` (same normalisation)."""
        return Scene([self.views[i] for i in indices], self.normalization, self.source, dict(self.meta))

    def without_masks(self) -> "Scene":
        """The scene with no masks (what a capture without masks gives a fit); views keep their mask paths."""
        return Scene([replace(v, mask=None) for v in self.views], self.normalization, self.source, dict(self.meta))
