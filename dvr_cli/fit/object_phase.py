"""The object phase of a fit without masks: the last ``cfg.schedule.object_share`` of the plan
fits the object with masks derived from its separation.

When the share begins, the fit renders its training views at SEPARATION_SIZE pixels and
separates the object from the table, floor or wall its surface holds (:mod:`dvr_cli.mesh.separate`);
each view's mask is then the object's silhouette in that render, brought to the photo's size, with
no label within a low-resolution pixel of its outline. When the surface holds no support (on DTU
65 after 7 minutes the fitted table is too rough for a plane), the photos' own automatic masks take
its place if they are trusted (:func:`dvr_cli.calib.scene_masks.mask_scene`: the sparse points
triangulated with the cameras held fixed, the plane the object stands on, each photo cut around the
rest), their visual hull the object's region (measured: a mean IoU of 0.96 on DTU 65; on a
synthetic table of the object's own colours they take the table in, trusted, so the surface's
support is tried first). From then on the sampler draws a share of its rays in and around the object; an
out-of-mask ray pushes its occupancy probe empty only where the probe lies in the object's region
(the table and the wall stay: the background model and the rest of the field keep explaining
them), and an in-mask ray that missed pushes it full. When neither gives an object, one line says
why and the fit goes on unchanged. At the end the region is written as RUN/object.npz, which
export, render and eval cut to. The checkpoint keeps the derived masks, and RUN/derived_masks.json
records that the run's masks were derived, not given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..calib.scene_masks import mask_scene
from ..errors import DvrError
from ..files import write_json
from ..mesh.separate import (
    OBJECT_FILE,
    ObjectRegion,
    derived_mask,
    hull_region,
    separate_renders,
    separation_renders,
)
from . import distributed
from .hooks import LoopHook
from .sampler import edge_band

if TYPE_CHECKING:  # the loop's job; no import at run time (trainer.py imports this module)
    from .trainer import FitJob

DERIVED_MASKS = "derived_masks.json"


@dataclass
class DerivedMasks:
    """What the object phase found at ``iteration``: the object's region (None when nothing
    separated), per training view its mask and where the mask's label is sure, (H, W) bool each
    (empty lists without a region), and ``reason``: why there is no region, or 'automatic masks'
    when the masks are the photos' own (``photo_masks``), empty when separated from the fit."""

    iteration: int
    region: ObjectRegion | None
    masks: list[np.ndarray]
    known: list[np.ndarray]
    reason: str = ""

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """(N,) bool on the points' device: unit-frame points (N, 3) in the object's region."""
        inside = self.region.contains(points.detach().cpu().double().numpy())
        return torch.as_tensor(inside, device=points.device)

    def state(self) -> dict:
        """The checkpoint's record (tensors, masks packed to bits: checkpoints load weights only)."""
        state = {"iteration": self.iteration, "reason": self.reason}
        if self.region is not None:

            def bits(m: np.ndarray) -> torch.Tensor:
                return torch.from_numpy(np.packbits(m))

            state |= {
                "cells": bits(self.region.cells),
                "grid": self.region.cells.shape[0],
                "planes": torch.from_numpy(self.region.planes),
                "shapes": [list(m.shape) for m in self.masks],
                "masks": [bits(m) for m in self.masks],
                "known": [bits(k) for k in self.known],
            }
        return state

    @classmethod
    def from_state(cls, state: dict) -> DerivedMasks:
        if "cells" not in state:
            return cls(int(state["iteration"]), None, [], [], state["reason"])

        def unbits(b: torch.Tensor, shape: list[int]) -> np.ndarray:
            return np.unpackbits(b.numpy())[: int(np.prod(shape))].reshape(shape).astype(bool)

        g = int(state["grid"])
        region = ObjectRegion(unbits(state["cells"], [g] * 3), state["planes"].numpy(), int(state["iteration"]))
        shapes = state["shapes"]
        return cls(
            int(state["iteration"]),
            region,
            [unbits(m, s) for m, s in zip(state["masks"], shapes)],
            [unbits(k, s) for k, s in zip(state["known"], shapes)],
        )


def derive_masks(job: FitJob) -> DerivedMasks:
    """The training views' masks now: the object separated from ``job``'s surface when a support
    is found in it (``separated_masks``), else the photos' own automatic masks when they are trusted
    (``photo_masks``)."""
    separated = separated_masks(job)
    if separated.region is not None:
        return separated
    photos = photo_masks(job)
    if photos.region is None:
        photos.reason = f"{separated.reason}; {photos.reason}"
    return photos


def photo_masks(job: FitJob) -> DerivedMasks:
    """The training photos' automatic masks (:func:`dvr_cli.calib.scene_masks.mask_scene`: their
    sparse points and the plane the object stands on, cut out of each photo), with their visual hull
    as the object's region and no label within EDGE_BAND_PX of an outline; no region when they
    are distrusted (the reason says why)."""
    try:
        found = mask_scene(job.scene.subset(job.train))
    except DvrError as error:
        return DerivedMasks(job.iteration, None, [], [], f"no automatic masks: {error}")
    if not found.used:
        return DerivedMasks(job.iteration, None, [], [], found.reason)
    masks = [view.mask for view in found.scene.views]
    region = hull_region([view.camera for view in job.data.sampler.views], masks)
    if region is None:
        return DerivedMasks(job.iteration, None, [], [], "the automatic masks' hull is empty")
    region.iteration = job.iteration
    return DerivedMasks(job.iteration, region, masks, [~edge_band(m) for m in masks], "automatic masks")


def separated_masks(job: FitJob) -> DerivedMasks:
    """The object of ``job``'s surface apart from its supports (:mod:`dvr_cli.mesh.separate`, on the
    training views rendered at SEPARATION_SIZE pixels) and each view's mask: its silhouette in that
    render at the photo's size (``separate.derived_mask``)."""
    full = [view.camera for view in job.data.sampler.views]  # unit frame, the photos' size
    renders, small = separation_renders(job.model, full)
    found = separate_renders(renders, small)
    if found.region is None:
        return DerivedMasks(job.iteration, None, [], [], found.reason)
    found.region.iteration = job.iteration
    pairs = [derived_mask(out, s, found.region, (c.width, c.height)) for out, s, c in zip(renders, small, full)]
    return DerivedMasks(job.iteration, found.region, [m for m, _ in pairs], [k for _, k in pairs])


def apply(job: FitJob, derived: DerivedMasks) -> None:
    """Fit ``job`` on with the derived masks (nothing changes without a region)."""
    job.derived = derived
    if derived.region is not None:
        job.data.sampler.use_masks(derived.masks, derived.known)


class ObjectPhase(LoopHook):
    """Starts the object phase once the fit reaches ``1 - cfg.schedule.object_share`` of its plan
    (module docstring); ``log`` gets one line saying what it found."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self.log = log

    def after_step(self, job: FitJob) -> None:
        if job.derived is not None or job.fraction < 1.0 - job.cfg.schedule.object_share:
            return
        derived = derive_masks(job)
        apply(job, derived)
        if derived.region is None:
            message = f"no object could be separated from its surroundings ({derived.reason}): fitting on without masks"
        else:
            share = np.mean([m.mean() for m in derived.masks])
            source = derived.reason or f"the object apart from {len(derived.region.planes)} support plane(s)"
            message = (
                f"iteration {job.iteration}: {source}, {share:.0%} of the photos; fitting the object on with "
                "masks derived from it"
            )
        if distributed.is_writer():
            write_json(
                job.run_dir / DERIVED_MASKS,
                {"iteration": job.iteration, "separated": derived.region is not None, "message": message},
            )
            if self.log is not None:
                self.log(message)

    def on_stop(self, job: FitJob, interrupted: bool) -> None:
        """The object's region as RUN/object.npz of the last iteration: export, render and eval cut to it."""
        if job.derived is not None and job.derived.region is not None and distributed.is_writer():
            job.derived.region.iteration = job.iteration
            job.derived.region.save(job.run_dir / OBJECT_FILE)
