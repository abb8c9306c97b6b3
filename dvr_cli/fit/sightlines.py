"""Free space from sparse points: a camera that sees a point sees through everything before it.

The masks carve what lies outside the silhouettes; a concavity inside them (a courtyard between
a building's wings, the inside of a cup) is left to the colour loss, which carves slowly and, on
DTU 24, not at all in 10 minutes (the courtyard roofed over, its windows painted on the roof).
A sparse point triangulated from the training photos (``calib.triangulate``) on the courtyard's
floor says that the segment from each camera that saw it to just short of it is empty, and that
the surface is there: occupancy probes drawn on those segments are pushed outside (DVR's
freespace term), a probe just behind the point inside (without it, carving the segments sinks the
floor under the point: 0.06-0.12 too deep on the test cup). DVR fits the sparse depth of SfM
keypoints for the same reason (Niemeyer et al. 2020, Sec. 4.3).

Each segment stops short of its point by the point's depth uncertainty along it, 2 sigma of
``PIXEL_NOISE`` px seen from the widest angle between the point's viewing rays, and at least
``MARGIN``; the probe behind the point is as far past it. A line that reached past the surface
would carve it. Lines whose margin would exceed ``MAX_MARGIN`` say too little and are dropped, as
are points outside the unit cube or outside the masks of the views that saw them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..calib.triangulate import SparsePoints
from ..render.rays import intersect_cube
from ..scene.camera import Camera

#: Unit-frame distances by which a segment stops short of its point, at least and at most.
MARGIN = 0.03
MAX_MARGIN = 0.06
#: Image noise (px) of a triangulated point's observations; their depth sigma follows from it.
PIXEL_NOISE = 1.0


@dataclass
class SightLines:
    """Segments known to be empty, in the unit frame: starts (S, 3) where each enters the unit
    cube, ends (S, 3) its margin short of its point; behind (S, 3) as far past the point, inside
    the object (the surface is at the point, not deeper)."""

    starts: torch.Tensor
    ends: torch.Tensor
    behind: torch.Tensor

    def __len__(self) -> int:
        return self.starts.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n segments drawn uniformly (CPU ``generator``): ((n, 3) a uniform point on each, (n, 3)
        its point behind)."""
        pick = torch.randint(len(self), (n,), generator=generator)
        u = torch.rand(n, 1, generator=generator).to(self.starts.device)
        pick = pick.to(self.starts.device)
        return self.starts[pick] + u * (self.ends[pick] - self.starts[pick]), self.behind[pick]


def sight_lines(
    sparse: SparsePoints, cameras_unit: list[Camera], masks: list[np.ndarray], to_unit, device: torch.device
) -> SightLines:
    """The empty segments of ``sparse`` (world points, observations indexing ``cameras_unit``).

    cameras_unit: per view camera in the unit frame; masks: per view (H, W) bool or None;
    to_unit: world (P, 3) -> unit frame (P, 3) (``Normalization.to_unit``).
    """
    points = to_unit(sparse.points) if len(sparse.points) else np.zeros((0, 3))
    centres = np.array([c.center for c in cameras_unit]).reshape(-1, 3)
    X, C = points[sparse.point], centres[sparse.view]
    length = np.linalg.norm(X - C, axis=1)
    margin = np.maximum(MARGIN, 2.0 * _depth_sigma(X, C, length, sparse, cameras_unit))
    keep = (np.abs(X).max(axis=1) < 1.0) & _in_mask(X, sparse.view, cameras_unit, masks) & (margin <= MAX_MARGIN)
    X, C, length, margin = X[keep], C[keep], length[keep], margin[keep]
    origins = torch.as_tensor(C, dtype=torch.float32)
    dirs = torch.as_tensor((X - C) / np.maximum(length, 1e-12)[:, None], dtype=torch.float32)
    t_near = intersect_cube(origins, dirs)[0].clamp(min=0.0)
    t_end = torch.as_tensor(length - margin, dtype=torch.float32)
    ok = t_end > t_near
    t_behind = torch.as_tensor(length + margin, dtype=torch.float32)
    lines = [origins + t[:, None] * dirs for t in (t_near, t_end, t_behind)]
    return SightLines(*(x[ok].to(device) for x in lines))


def _in_mask(X: np.ndarray, view: np.ndarray, cameras: list[Camera], masks: list[np.ndarray]) -> np.ndarray:
    """(O,) bool: observation o's point X[o] projects inside the mask of its view ``view[o]`` (into
    its image, for a view without a mask)."""
    inside = np.zeros(len(X), bool)
    for k in np.unique(view):
        rows = np.flatnonzero(view == k)
        uv = cameras[k].project(X[rows], distort=True)
        ok = cameras[k].in_image(uv)
        ij = cameras[k].pixel_index(uv[ok])
        inside[rows[ok]] = True if masks[k] is None else masks[k][ij[:, 1], ij[:, 0]]
    return inside


def _depth_sigma(
    X: np.ndarray, C: np.ndarray, length: np.ndarray, sparse: SparsePoints, cameras: list[Camera]
) -> np.ndarray:
    """(O,) unit-frame depth uncertainty of each observation's point along its viewing ray:
    length (O,) camera -> point * (PIXEL_NOISE / focal length) / sin(the widest angle between the
    point's rays, at most 90 degrees); infinite for a point seen along one direction only."""
    focal = np.array([c.focal for c in cameras])[sparse.view]
    angle = np.minimum(_angles(X, C, sparse.point, len(sparse.points))[sparse.point], np.pi / 2)
    with np.errstate(divide="ignore"):
        return length * (PIXEL_NOISE / focal) / np.sin(angle)


def _angles(X: np.ndarray, C: np.ndarray, point: np.ndarray, n_points: int) -> np.ndarray:
    """(P,) the largest angle (radians) between a point's viewing rays (X - C per observation)."""
    rays = (X - C) / np.maximum(np.linalg.norm(X - C, axis=1), 1e-12)[:, None]
    best = np.zeros(n_points)
    order = np.argsort(point, kind="stable")
    bounds = np.searchsorted(point[order], np.arange(n_points + 1))
    for p in range(n_points):
        r = rays[order[bounds[p] : bounds[p + 1]]]
        if len(r) > 1:
            best[p] = np.arccos(np.clip((r @ r.T).min(), -1.0, 1.0))
    return best
