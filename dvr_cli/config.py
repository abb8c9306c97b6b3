"""One typed configuration for fitting, with presets; saved as JSON with every run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import DvrError


@dataclass
class FitConfig:
    """Every hyper-parameter of a fit. ``preset`` names the defaults it started from."""

    preset: str = "fast"

    # ---- field backbone: 'grid' (multi-resolution dense feature grid + tiny MLP) or 'paper'
    field: str = "grid"
    grid_resolutions: list[int] = dataclasses.field(default_factory=lambda: [16, 32, 64, 128])
    grid_features: int = 4
    # finer levels stored in hash tables of 2^hash_table_log2 rows (Instant-NGP); [] for none
    hash_resolutions: list[int] = dataclasses.field(default_factory=lambda: [256])
    hash_features: int = 2
    hash_table_log2: int = 20
    mlp_hidden: int = 64
    paper_hidden: int = 512
    paper_blocks: int = 5
    init_radius: float = 0.5  # occupancy starts as a sphere of this radius (unit-cube units)
    # view-dependent colour: spherical harmonics of the view direction up to this degree (0: none,
    # as in DVR); exported meshes keep the colour averaged over directions
    sh_degree: int = 2

    # ---- optimisation
    iters: int = 1500
    minutes: float | None = None
    lr: float = 1e-2
    lr_final_ratio: float = 0.1  # exponential decay to lr * ratio at the last iteration
    rays_per_step: int = 2048
    views_per_step: int = 4
    mask_ray_fraction: float = 0.5  # share of the other rays drawn inside the masks
    edge_ray_fraction: float = 0.25  # share of rays drawn within 2 px of a mask's outline (0 in DVR)
    # where a ray that found no surface gets its mask-loss probe: 'peak' (its most occupied marching
    # sample, which grows / carves the shape where it is closest to the silhouette) or 'random' (DVR)
    mask_probe: str = "peak"

    # ---- renderer
    tau: float = 0.5
    steps_schedule: list[list[int]] = dataclasses.field(default_factory=lambda: [[0, 32], [500, 64], [1000, 128]])
    n_secant: int = 8
    render_steps: int = 256

    # ---- losses
    w_rgb: float = 1.0
    w_freespace: float = 1.0
    w_occupancy: float = 1.0
    w_normal: float = 0.1
    w_depth: float = 0.0
    normal_eps: float = 0.01
    # normals for that loss: central differences with this step (unit-frame units, about half a
    # finest grid cell), or 0 for the analytic gradient (double backward: exact, ~3x slower)
    normal_fd_step: float = 0.008

    # ---- empty-space skipping (occupancy bit-grid)
    occ_grid_res: int = 64
    occ_grid_every: int = 200

    # ---- data
    downscale: float = 1.0
    holdout: int = 0  # keep every K-th view out of fitting (0: use all)

    # ---- bookkeeping
    seed: int = 0
    device: str = "auto"
    checkpoint_every_s: float = 120.0
    preview_every_s: float = 180.0

    def n_steps(self, iteration: int) -> int:
        """Marching steps at ``iteration`` from ``steps_schedule`` ([[from_iter, n], ...])."""
        n = self.steps_schedule[0][1]
        for start, steps in self.steps_schedule:
            if iteration >= start:
                n = steps
        return n

    # ------------------------------------------------------------------ I/O
    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2))

    @classmethod
    def from_json(cls, data: dict, source: str | Path = "config") -> "FitConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DvrError(f"unknown config keys {unknown}", source)
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> "FitConfig":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DvrError(f"cannot read config ({exc})", path) from None
        return cls.from_json(data, path)

    @classmethod
    def from_preset(cls, name: str = "fast", **overrides) -> "FitConfig":
        """The named preset with ``overrides`` (None values are ignored)."""
        if name not in PRESETS:
            raise DvrError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
        values = dict(PRESETS[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_json(values, f"preset '{name}'")


PRESETS: dict[str, dict] = {
    # Fast CPU fitting: dense multi-resolution grid field, large learning rate, few steps.
    "fast": {"preset": "fast"},
    # The published multi-view DVR: one 512-wide residual MLP, Adam 1e-4, 1024 rays a step,
    # marching steps 16 -> 32 -> 64 -> 128 during training.
    "paper": {
        "preset": "paper",
        "field": "paper",
        "lr": 1e-4,
        "lr_final_ratio": 0.5,
        "rays_per_step": 1024,
        "views_per_step": 1,
        "iters": 300000,
        "steps_schedule": [[0, 16], [50000, 32], [100000, 64], [200000, 128]],
        "w_normal": 0.05,
        "normal_fd_step": 0.0,
        "mask_probe": "random",
        "edge_ray_fraction": 0.0,
        "sh_degree": 0,
    },
}
