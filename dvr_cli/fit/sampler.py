"""Per-step pixel sampling: which rays a fitting step looks at, and what they should see.

Each step draws ``views_per_step`` training views and ``rays_per_step`` pixels among them,
an ``edge_ray_fraction`` share within EDGE_BAND_PX pixels of a mask's outline (where silhouette
errors live), then of the rest a ``mask_ray_fraction`` share inside the object masks and the
others outside. Without masks (every view's mask None) every pixel is drawn alike and batches
carry no mask. Only pixels whose rays cross the unit cube are candidates: the others carry no
information about the field.
All randomness comes from one CPU ``torch.Generator`` so a resumed fit draws the same rays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch

from ..errors import DvrError
from ..model.ray_batch import RayBatch
from ..render.rays import camera_rays, intersect_cube
from ..scene.camera import Camera
from ..scene.types import View
from ..settings import Settings, int_at_least, number_in, setting
from .sightlines import SightLines

EDGE_BAND_PX = 2  # edge rays come from pixels at most this far (Chebyshev) from the other side of the mask


@dataclass
class _ViewPixels:
    """One view's tensors, prepared once: flat images on the device, candidate pixels on CPU."""

    camera: Camera  # unit frame
    rgb: torch.Tensor  # (H*W, 3) on device
    mask: torch.Tensor  # (H*W,) bool on device
    depth: torch.Tensor | None  # (H*W,) camera-z depth in the unit frame (world z / scale), 0 = unknown
    inside: torch.Tensor  # (n_in,) int32 flat indices of in-mask pixels whose rays cross the cube
    outside: torch.Tensor  # (n_out,) int32 flat indices of out-of-mask pixels whose rays cross the cube
    edge: torch.Tensor  # (n_edge,) int32 flat indices of pixels near the mask's outline whose rays cross the cube
    known: torch.Tensor | None = None  # (H*W,) bool on device: the mask's label is sure (derived masks), or None


def edge_band(mask: np.ndarray, width: int = EDGE_BAND_PX) -> np.ndarray:
    """(H, W) bool mask -> (H, W) bool: pixels within ``width`` px (Chebyshev) of a pixel of the other class."""
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    m = mask.astype(np.uint8)
    return (cv2.dilate(m, kernel) > 0) & ~(cv2.erode(m, kernel, borderType=cv2.BORDER_REPLICATE) > 0)


def _cube_pixels(camera: Camera, device: torch.device) -> torch.Tensor:
    """(H*W,) bool: the ray through each pixel (row-major) crosses the unit cube."""
    origins, dirs = camera_rays(camera, None, device=device)
    return intersect_cube(origins, dirs)[2]


class RaySampler:
    """Draws :class:`RayBatch` es from calibrated views (cameras already in the unit frame).

    Args:
        views: the training views (world cameras, images, masks, optional depth).
        cameras_unit: the same cameras in the unit frame.
        scale: world units per unit-frame unit (``Normalization.scale``), to convert depth.
        device: where batches are returned.
        generator: CPU generator for every random choice (its state is checkpointed).
        config: rays_per_step, views_per_step, mask_ray_fraction, edge_ray_fraction (``SamplerConfig``).
        sight_lines, sparse_per_step: empty segments (fit/sightlines.py) and the number of
            ``free_points`` (and ``solid_points``) a batch draws on them (none without sight lines).
    """

    def __init__(
        self,
        views: list[View],
        cameras_unit: list[Camera],
        scale: float,
        device: torch.device,
        generator: torch.Generator,
        *,
        config: SamplerConfig,
        sight_lines: SightLines | None = None,
        sparse_per_step: int = 0,
    ):
        self.has_masks = all(v.mask is not None for v in views)
        self.device = torch.device(device)
        self.generator = generator
        self.rays_per_step = int(config.rays_per_step)
        self.views_per_step = max(1, min(int(config.views_per_step), len(views)))
        self.mask_ray_fraction = float(config.mask_ray_fraction)
        self.edge_ray_fraction = float(config.edge_ray_fraction)
        self.has_depth = any(v.depth is not None for v in views)
        self.sight_lines = sight_lines if sight_lines is not None and len(sight_lines) else None
        self.sparse_per_step = int(sparse_per_step)
        self.views = [self._prepare(v, cam, scale) for v, cam in zip(views, cameras_unit)]
        self.usable = [i for i, v in enumerate(self.views) if len(v.inside) + len(v.outside) > 0]
        if not self.usable:
            raise DvrError(
                "no camera sees the object's region: every ray misses the unit cube "
                "(check the camera convention, or the bbox / normalisation)"
            )

    def _prepare(self, view: View, camera: Camera, scale: float) -> _ViewPixels:
        dev = self.device
        h, w = view.image.shape[:2]
        rgb = torch.as_tensor(view.image, dtype=torch.float32, device=dev).reshape(h * w, 3)
        # without masks every pixel counts as in-mask: drawn alike, and the batch carries no mask
        view_mask = view.mask if self.has_masks else np.ones((h, w), dtype=bool)
        depth = None
        if view.depth is not None:
            depth = torch.as_tensor(view.depth, dtype=torch.float32, device=dev).reshape(h * w) / scale
        return self._masked(_ViewPixels(camera, rgb, None, depth, None, None, None), view_mask)

    def _masked(self, view: _ViewPixels, view_mask: np.ndarray, known: np.ndarray | None = None) -> _ViewPixels:
        """``view`` with the mask (H, W) bool ``view_mask`` (and where its label is sure, ``known``)
        and the candidate pixels it splits."""
        dev, (h, w) = self.device, view_mask.shape
        mask = torch.as_tensor(view_mask, dtype=torch.bool, device=dev).reshape(h * w)
        crosses = _cube_pixels(view.camera, dev)
        inside = torch.nonzero(crosses & mask).flatten().to("cpu", torch.int32)
        outside = torch.nonzero(crosses & ~mask).flatten().to("cpu", torch.int32)
        band = torch.as_tensor(edge_band(view_mask), device=dev).reshape(h * w)
        edge = torch.nonzero(crosses & band).flatten().to("cpu", torch.int32)
        sure = None if known is None else torch.as_tensor(known, dtype=torch.bool, device=dev).reshape(h * w)
        return dataclasses.replace(view, mask=mask, inside=inside, outside=outside, edge=edge, known=sure)

    def use_masks(self, masks: list[np.ndarray], known: list[np.ndarray]) -> None:
        """From now on draw and label the rays with masks (H, W) bool per training view, derived
        rather than given: the mask terms apply only where ``known`` (H, W) bool (batches carry
        ``mask_known``)."""
        self.views = [self._masked(view, m, k) for view, m, k in zip(self.views, masks, known)]
        self.has_masks = True

    def _counts(self, n: int, view: _ViewPixels) -> tuple[int, int, int]:
        """Split ``n`` rays of one view into (near the outline, in-mask, out-of-mask) counts."""
        n_edge = round(n * self.edge_ray_fraction) if len(view.edge) else 0
        n -= n_edge
        n_in = round(n * self.mask_ray_fraction) if len(view.inside) else 0
        if not len(view.outside):
            n_in = n
        return n_edge, n_in, n - n_in

    def _draw(self, candidates: torch.Tensor, n: int) -> torch.Tensor:
        """(n,) long flat pixel indices drawn uniformly, with replacement, from ``candidates``."""
        if n == 0:  # e.g. no out-of-mask pixels to draw from without masks
            return torch.zeros(0, dtype=torch.long)
        pick = torch.randint(len(candidates), (n,), generator=self.generator)
        return candidates[pick].long()

    def sample(self) -> RayBatch:
        """The rays of one step (N = ``rays_per_step``)."""
        g = self.generator
        chosen = torch.randperm(len(self.usable), generator=g)[: self.views_per_step].tolist()
        per_view, extra = divmod(self.rays_per_step, len(chosen))
        parts = []
        for k, c in enumerate(chosen):
            vi = self.usable[c]
            view = self.views[vi]
            n_edge, n_in, n_out = self._counts(per_view + (k < extra), view)
            flat = torch.cat(
                [self._draw(view.edge, n_edge), self._draw(view.inside, n_in), self._draw(view.outside, n_out)]
            ).to(self.device)
            parts.append((vi, view, flat))
        u = torch.rand(self.rays_per_step, generator=g).to(self.device)
        batch = self._gather(parts, u)
        if self.sight_lines is not None:
            batch.free_points, batch.solid_points = self.sight_lines.sample(self.sparse_per_step, g)
        return batch

    def _gather(self, parts, u: torch.Tensor) -> RayBatch:
        origins, dirs, rgb, mask, known, depth, index, pixels = [], [], [], [], [], [], [], []
        for vi, view, flat in parts:
            width = view.camera.width
            pix = torch.stack([flat % width, flat // width], dim=1).float()
            o, d = camera_rays(view.camera, pix, device=self.device)
            origins.append(o)
            dirs.append(d)
            rgb.append(view.rgb[flat])
            mask.append(view.mask[flat])
            if view.known is not None:
                known.append(view.known[flat])
            index.append(torch.full((len(flat),), vi, dtype=torch.long, device=self.device))
            pixels.append(pix)
            if self.has_depth:
                depth.append(self._ray_depth(view, flat, d))
        origins, dirs = torch.cat(origins), torch.cat(dirs)
        t_near, t_far, _ = intersect_cube(origins, dirs)
        t_near = t_near.clamp(min=0.0)  # a camera inside the cube starts its segment at the centre
        t = t_near + u * (t_far - t_near).clamp(min=0.0)
        return RayBatch(
            origins=origins,
            dirs=dirs,
            rgb=torch.cat(rgb),
            mask=torch.cat(mask) if self.has_masks else None,
            depth=torch.cat(depth) if self.has_depth else None,
            random_points=origins + t[:, None] * dirs,
            view_index=torch.cat(index),
            pixels=torch.cat(pixels),
            mask_known=torch.cat(known) if known else None,
        )

    def _ray_depth(self, view: _ViewPixels, flat: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
        """(n,) target ray length: unit-frame z depth / cos(angle to the optical axis); 0 = unknown."""
        if view.depth is None:
            return torch.zeros(len(flat), device=self.device)
        forward = torch.as_tensor(view.camera.forward, dtype=torch.float32, device=self.device)
        return view.depth[flat] / (dirs @ forward)


@dataclass
class SamplerConfig(Settings):
    """Which rays an iteration draws (``RaySampler``), and how many points on the sparse points'
    sight lines (``sparse_per_step``, with the loss weight ``w_sparse``)."""

    _target: ClassVar[type] = RaySampler

    rays_per_step: int = setting(2048, check=int_at_least(1), want="an integer >= 1")
    views_per_step: int = setting(4, check=int_at_least(1), want="an integer >= 1")
    # share of the other rays drawn inside the masks
    mask_ray_fraction: float = setting(0.5, check=number_in(0, 1), want="a number in [0, 1]")
    # share of rays drawn within EDGE_BAND_PX of a mask's outline (0 in DVR)
    edge_ray_fraction: float = setting(0.25, check=number_in(0, 1), want="a number in [0, 1]")
    # free-space probes an iteration draws on camera -> sparse point segments (fit/sightlines.py)
    sparse_per_step: int = setting(512, check=int_at_least(1), want="an integer >= 1")

    def setup(
        self,
        views: list[View],
        cameras_unit: list[Camera],
        scale: float,
        device: torch.device,
        generator: torch.Generator,
        sight_lines: SightLines | None = None,
    ) -> RaySampler:
        """The sampler of ``views`` (see ``RaySampler`` for the arguments)."""
        return self._target(
            views,
            cameras_unit,
            scale,
            device,
            generator,
            config=self,
            sight_lines=sight_lines,
            sparse_per_step=self.sparse_per_step,
        )
