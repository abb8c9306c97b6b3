"""One typed configuration for fitting, with presets; saved as JSON with every run."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from .errors import DvrError
from .files import read_json, write_json

DEFAULT_MINUTES = 10.0  # the budget of a fit given neither --iters nor --minutes
MAX_CHECKPOINT_INTERVAL_S = 120.0  # a kill -9 loses at most this much work


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
    mlp_hidden_layers: int = 1
    grid_init_std: float = 1e-4  # feature grids start as N(0, std^2)
    paper_hidden: int = 512
    paper_blocks: int = 5
    init_radius: float = 0.5  # occupancy starts as a sphere of this radius (unit-cube units)
    prior_sharpness: float = 10.0  # slope of that sphere prior's logit, per unit-cube unit
    head_scale: float = 0.01  # output heads start scaled by this (the prior dominates at first)
    # view-dependent colour: spherical harmonics of the view direction up to this degree (0: none,
    # as in DVR); exported meshes keep the colour averaged over directions
    sh_degree: int = 2
    # a shading term shared by all points: an MLP of this width over (surface normal, view direction,
    # their dot product), added to the colour logit (0: none, as in DVR; see fields/grid.py)
    shading_hidden: int = 32

    # ---- optimisation: planned over ``iters`` iterations (repeatable) or, when iters is None,
    # over ``minutes`` of wall clock (DEFAULT_MINUTES when both are None). The schedule (learning
    # rate, coarse-to-fine levels, marching steps) follows the fraction of the plan done; with
    # both set, the iteration plan is also stopped after ``minutes``.
    iters: int | None = None
    minutes: float | None = None
    lr: float = 1e-2
    lr_final_ratio: float = 0.1  # exponential decay to lr * ratio at the end of the plan
    rays_per_step: int = 2048
    views_per_step: int = 4
    mask_ray_fraction: float = 0.5  # share of the other rays drawn inside the masks
    edge_ray_fraction: float = 0.25  # share of rays drawn within 2 px of a mask's outline (0 in DVR)
    # where a ray that found no surface gets its mask-loss probe: 'peak' (its most occupied marching
    # sample, which grows / carves the shape where it is closest to the silhouette) or 'random' (DVR)
    mask_probe: str = "peak"

    # ---- renderer
    # 'unified': UNISURF's volume rendering of the occupancy (render/volume.py) until
    # ``volume_until`` of the plan, then DVR's surface rendering; 'surface': DVR's alone (the paper)
    renderer: str = "unified"
    volume_until: float = 0.85
    # samples per ray of the volume renderer: stratified over the ray's occupied span (free space),
    # and in the interval [d - delta, d + delta] around the marched surface d, with
    # delta = max(interval_max exp(-interval_decay * fraction), interval_min) (unit-cube units)
    free_samples: int = 4
    interval_samples: int = 8
    interval_max: float = 1.0
    interval_min: float = 0.05
    interval_decay: float = 5.0
    tau: float = 0.5
    # marching steps from a fraction of the plan on: [[fraction, steps], ...], first fraction 0
    steps_schedule: list[list[float]] = dataclasses.field(default_factory=lambda: [[0, 32], [0.33, 64], [0.67, 128]])
    n_secant: int = 8
    render_steps: int = 256
    # marching stops evaluating a ray once it has hit (the same hits and depths for about half the
    # evaluations; False: every sample of every ray, as before issue 32)
    stop_at_hit: bool = True
    # torch.compile the field's per-point work (fields/compiled.py); falls back to eager with one
    # warning line where it cannot compile. Its warm-up is counted in a time-planned budget
    compile: bool = False

    # ---- losses
    w_rgb: float = 1.0
    w_freespace: float = 1.0
    w_occupancy: float = 1.0
    w_normal: float = 0.1
    w_depth: float = 0.0
    normal_eps: float = 0.01
    # free space seen past sparse points: the fit triangulates the training photos (fit/sightlines.py)
    # and pushes sparse_per_step probes a step on camera -> point segments outside (0: off)
    w_sparse: float = 0.0
    sparse_per_step: int = 512
    # normals for that loss: central differences with this step (unit-frame units, about half a
    # finest grid cell), or 0 for the analytic gradient (double backward: exact, ~3x slower)
    normal_fd_step: float = 0.008

    # ---- empty-space skipping (occupancy bit-grid)
    occ_grid_res: int = 64
    occ_grid_every: int = 200

    # ---- data
    downscale: float = 1.0
    max_size: int | None = None  # also shrink images so that the longer side is at most this (pixels)
    holdout: int = 0  # keep every K-th view out of fitting (0: use all)

    # ---- bookkeeping
    seed: int = 0
    device: str = "auto"
    checkpoint_every_s: float = 120.0
    preview_every_s: float = 180.0

    def __post_init__(self):
        validate(self)

    @property
    def time_planned(self) -> bool:
        """True when the schedule follows the wall clock (no ``iters``)."""
        return self.iters is None

    @property
    def budget_minutes(self) -> float | None:
        """The wall-clock budget: ``minutes``, or DEFAULT_MINUTES for a time-planned fit."""
        return self.minutes if self.minutes is not None or not self.time_planned else DEFAULT_MINUTES

    def volume_rendered(self, fraction: float) -> bool:
        """The step at ``fraction`` of the plan renders the occupancy as a volume (else as a surface)."""
        return self.renderer == "unified" and fraction < self.volume_until

    def n_steps(self, fraction: float) -> int:
        """Marching steps at ``fraction`` of the plan, from ``steps_schedule``."""
        n = self.steps_schedule[0][1]
        for start, steps in self.steps_schedule:
            if fraction >= start:
                n = steps
        return int(n)

    # ------------------------------------------------------------------ I/O
    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def from_json(cls, data: dict, source: str | Path = "config") -> "FitConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DvrError(f"unknown config keys {unknown}", source)
        try:
            return cls(**data)
        except DvrError as exc:
            raise DvrError(str(exc), source) from None

    @classmethod
    def load(cls, path: Path) -> "FitConfig":
        """A run's saved config; fields added since it was saved take the value it ran with."""
        return cls.from_json(with_legacy_values(read_json(path)), path)

    @classmethod
    def from_preset(cls, name: str = "fast", **overrides) -> "FitConfig":
        """The named preset with ``overrides`` (None values are ignored)."""
        if name not in PRESETS:
            raise DvrError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
        values = dict(PRESETS[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_json(values, f"preset '{name}'")


#: Fields added after runs were first saved, with the value the older runs ran with.
LEGACY_VALUES = {"w_sparse": 0.0, "sparse_per_step": 512, "shading_hidden": 0, "renderer": "surface",
                 "stop_at_hit": False, "compile": False}


def with_legacy_values(saved: dict) -> dict:
    """A saved config (JSON dict) with the fields it predates filled in (:data:`LEGACY_VALUES`)."""
    return {**LEGACY_VALUES, **saved}


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
        "steps_schedule": [[0, 16], [1 / 6, 32], [1 / 3, 64], [2 / 3, 128]],
        "w_normal": 0.05,
        "normal_fd_step": 0.0,
        "mask_probe": "random",
        "edge_ray_fraction": 0.0,
        "sh_degree": 0,
        "shading_hidden": 0,
        "w_sparse": 0.0,
        "renderer": "surface",
    },
}


# ------------------------------------------------------------------------ validation
FIELDS = ("grid", "paper")
MASK_PROBES = ("peak", "random")
RENDERERS = ("unified", "surface")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_list(value, low: int) -> bool:
    return isinstance(value, list) and all(_int(v) and v >= low for v in value)


def _schedule(value) -> bool:
    if not isinstance(value, list) or not value:
        return False
    if not all(isinstance(e, (list, tuple)) and len(e) == 2 and _number(e[0]) and _int(e[1]) for e in value):
        return False
    starts = [e[0] for e in value]
    return starts[0] == 0 and starts == sorted(starts) and starts[-1] < 1 and all(e[1] >= 2 for e in value)


def _rules(cfg: FitConfig) -> list[tuple[str, bool, str]]:
    """(name, holds, what it must be) for every field."""
    c = cfg
    return [
        ("preset", isinstance(c.preset, str), "a string"),
        ("field", c.field in FIELDS, f"one of {', '.join(FIELDS)}"),
        ("grid_resolutions", _int_list(c.grid_resolutions, 2) and bool(c.grid_resolutions), "a non-empty list of integers >= 2"),
        ("grid_features", _int(c.grid_features) and c.grid_features >= 1, "an integer >= 1"),
        ("hash_resolutions", _int_list(c.hash_resolutions, 2), "a list of integers >= 2"),
        ("hash_features", _int(c.hash_features) and c.hash_features >= 1, "an integer >= 1"),
        ("hash_table_log2", _int(c.hash_table_log2) and 8 <= c.hash_table_log2 <= 26, "an integer in [8, 26]"),
        ("mlp_hidden", _int(c.mlp_hidden) and c.mlp_hidden >= 1, "an integer >= 1"),
        ("mlp_hidden_layers", _int(c.mlp_hidden_layers) and c.mlp_hidden_layers >= 1, "an integer >= 1"),
        ("grid_init_std", _number(c.grid_init_std) and c.grid_init_std >= 0, "a number >= 0"),
        ("paper_hidden", _int(c.paper_hidden) and c.paper_hidden >= 1, "an integer >= 1"),
        ("paper_blocks", _int(c.paper_blocks) and c.paper_blocks >= 1, "an integer >= 1"),
        ("init_radius", _number(c.init_radius) and 0 < c.init_radius <= 1, "a number in (0, 1]"),
        ("prior_sharpness", _number(c.prior_sharpness) and c.prior_sharpness > 0, "a number > 0"),
        ("head_scale", _number(c.head_scale) and c.head_scale >= 0, "a number >= 0"),
        ("shading_hidden", _int(c.shading_hidden) and c.shading_hidden >= 0, "an integer >= 0"),
        ("sh_degree", c.sh_degree in (0, 1, 2) and _int(c.sh_degree), "0, 1 or 2"),
        ("iters", c.iters is None or (_int(c.iters) and c.iters >= 1), "an integer >= 1 (or null: plan in time)"),
        ("minutes", c.minutes is None or (_number(c.minutes) and c.minutes > 0), "a number > 0 (or null)"),
        ("lr", _number(c.lr) and c.lr > 0, "a number > 0"),
        ("lr_final_ratio", _number(c.lr_final_ratio) and 0 < c.lr_final_ratio <= 1, "a number in (0, 1]"),
        ("rays_per_step", _int(c.rays_per_step) and c.rays_per_step >= 1, "an integer >= 1"),
        ("views_per_step", _int(c.views_per_step) and c.views_per_step >= 1, "an integer >= 1"),
        ("mask_ray_fraction", _number(c.mask_ray_fraction) and 0 <= c.mask_ray_fraction <= 1, "a number in [0, 1]"),
        ("edge_ray_fraction", _number(c.edge_ray_fraction) and 0 <= c.edge_ray_fraction <= 1, "a number in [0, 1]"),
        ("mask_probe", c.mask_probe in MASK_PROBES, f"one of {', '.join(MASK_PROBES)}"),
        ("renderer", c.renderer in RENDERERS, f"one of {', '.join(RENDERERS)}"),
        ("volume_until", _number(c.volume_until) and 0 <= c.volume_until <= 1, "a number in [0, 1]"),
        ("free_samples", _int(c.free_samples) and c.free_samples >= 1, "an integer >= 1"),
        ("interval_samples", _int(c.interval_samples) and c.interval_samples >= 1, "an integer >= 1"),
        ("interval_max", _number(c.interval_max) and c.interval_max > 0, "a number > 0"),
        ("interval_min", _number(c.interval_min) and 0 < c.interval_min <= c.interval_max,
         "a number in (0, interval_max]"),
        ("interval_decay", _number(c.interval_decay) and c.interval_decay >= 0, "a number >= 0"),
        ("tau", _number(c.tau) and 0 < c.tau < 1, "a number in (0, 1)"),
        ("steps_schedule", _schedule(c.steps_schedule),
         "a list of [fraction, steps] from fraction 0, increasing fractions < 1, steps >= 2"),
        ("n_secant", _int(c.n_secant) and c.n_secant >= 0, "an integer >= 0"),
        ("render_steps", _int(c.render_steps) and c.render_steps >= 2, "an integer >= 2"),
        ("stop_at_hit", isinstance(c.stop_at_hit, bool), "true or false"),
        ("compile", isinstance(c.compile, bool), "true or false"),
        *((f"w_{k}", _number(getattr(c, f"w_{k}")) and getattr(c, f"w_{k}") >= 0, "a number >= 0")
          for k in ("rgb", "freespace", "occupancy", "normal", "depth", "sparse")),
        ("sparse_per_step", _int(c.sparse_per_step) and c.sparse_per_step >= 1, "an integer >= 1"),
        ("normal_eps", _number(c.normal_eps) and c.normal_eps >= 0, "a number >= 0"),
        ("normal_fd_step", _number(c.normal_fd_step) and c.normal_fd_step >= 0, "a number >= 0"),
        ("occ_grid_res", _int(c.occ_grid_res) and 2 <= c.occ_grid_res <= 512, "an integer in [2, 512]"),
        ("occ_grid_every", _int(c.occ_grid_every) and c.occ_grid_every >= 1, "an integer >= 1"),
        ("downscale", _number(c.downscale) and c.downscale >= 1, "a number >= 1"),
        ("max_size", c.max_size is None or (_int(c.max_size) and c.max_size >= 8), "an integer >= 8 (or null)"),
        ("holdout", _int(c.holdout) and c.holdout >= 0, "an integer >= 0"),
        ("seed", _int(c.seed), "an integer"),
        ("device", isinstance(c.device, str), "a string"),
        ("checkpoint_every_s", _number(c.checkpoint_every_s) and 0 <= c.checkpoint_every_s <= MAX_CHECKPOINT_INTERVAL_S,
         f"a number of seconds in [0, {MAX_CHECKPOINT_INTERVAL_S:g}] (0: after every iteration)"),
        ("preview_every_s", _number(c.preview_every_s) and c.preview_every_s > 0, "a number > 0"),
    ]


def validate(cfg: FitConfig) -> None:
    """DvrError naming the first field whose value is out of range or of the wrong type."""
    for name, holds, want in _rules(cfg):
        if not holds:
            raise DvrError(f"config '{name}' must be {want}, got {getattr(cfg, name)!r}")
