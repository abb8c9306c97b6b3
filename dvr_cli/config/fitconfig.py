"""FitConfig: every setting of a fit, in its parts, with presets; saved as JSON with every run.

Each part is declared next to what it builds (``setup()``): the field (fields/grid.py, fields/paper.py),
the optimizer (fields/lazy_adam.py), the occupancy grid (render/occgrid.py), the ray sampler
(fit/sampler.py); the parts that build nothing are in parts.py. The presets are FitConfig instances.
The command line and batch manifests name each setting by a flat alias (flat.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..errors import DvrError
from ..fields import FIELD_CONFIGS, FieldConfig, GridFieldConfig, PaperFieldConfig
from ..fields.lazy_adam import OptimizerConfig
from ..files import read_json, write_json
from ..fit.sampler import SamplerConfig
from ..render.occgrid import OccGridConfig
from ..settings import Settings, int_at_least, integer, number_in, optional, setting
from .parts import LossConfig, RenderConfig, Schedule

DEFAULT_MINUTES = 10.0  # the budget of a fit given neither --iters nor --minutes
MAX_CHECKPOINT_INTERVAL_S = 120.0  # a kill -9 loses at most this much work


def _string(value) -> bool:
    return isinstance(value, str)


@dataclass
class FitConfig(Settings):
    """Every setting of a fit, in parts: ``field`` (the field: a ``GridFieldConfig`` or a
    ``PaperFieldConfig``), ``rendering``, ``losses``, ``schedule`` (the plan), ``optimizer``,
    ``sampler`` (the rays), ``occ_grid``; the data and the bookkeeping stay at the top. ``preset``
    names the defaults it started from."""

    preset: str = setting("fast", check=_string, want="a string")
    field: FieldConfig = dataclasses.field(default_factory=GridFieldConfig)
    rendering: RenderConfig = dataclasses.field(default_factory=RenderConfig)
    losses: LossConfig = dataclasses.field(default_factory=LossConfig)
    schedule: Schedule = dataclasses.field(default_factory=Schedule)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    sampler: SamplerConfig = dataclasses.field(default_factory=SamplerConfig)
    occ_grid: OccGridConfig = dataclasses.field(default_factory=OccGridConfig)

    # ---- data
    downscale: float = setting(1.0, check=number_in(1), want="a number >= 1")
    # also shrink images so that the longer side is at most this (pixels)
    max_size: int | None = setting(None, check=optional(int_at_least(8)), want="an integer >= 8 (or null)")
    # keep every K-th view out of fitting (0: use all)
    holdout: int = setting(0, check=int_at_least(0), want="an integer >= 0")

    # ---- bookkeeping
    seed: int = setting(0, check=integer, want="an integer")
    device: str = setting("auto", check=_string, want="a string")
    checkpoint_every_s: float = setting(
        120.0,
        check=number_in(0, MAX_CHECKPOINT_INTERVAL_S),
        want=f"a number of seconds in [0, {MAX_CHECKPOINT_INTERVAL_S:g}] (0: after every iteration)",
    )
    preview_every_s: float = setting(180.0, check=number_in(0, open_low=True), want="a number > 0")

    @property
    def time_planned(self) -> bool:
        """True when the schedule follows the wall clock (no ``iters``)."""
        return self.schedule.iters is None

    @property
    def budget_minutes(self) -> float | None:
        """The wall-clock budget: ``minutes``, or DEFAULT_MINUTES for a time-planned fit."""
        minutes = self.schedule.minutes
        return minutes if minutes is not None or not self.time_planned else DEFAULT_MINUTES

    # ------------------------------------------------------------------ flat aliases (flat.py)
    def flat(self) -> dict:
        """Every setting by its flat alias (as the command line and batch manifests name them)."""
        from .flat import flat_values

        return flat_values(self)

    @classmethod
    def from_flat(cls, values: dict, source: str | Path = "config") -> "FitConfig":
        """The config of settings given by flat alias (the others take their defaults)."""
        from .flat import nest

        return cls.from_json(nest(values, source), source)

    def replaced(self, **values) -> "FitConfig":
        """This config with the settings named (flat aliases) replaced; None values are ignored. A new
        ``field`` kind keeps the settings the two fields share."""
        from .flat import current_names

        given = current_names({k: v for k, v in values.items() if v is not None})
        return FitConfig.from_flat({**self.flat(), **given})

    @classmethod
    def from_preset(cls, name: str = "fast", **overrides) -> "FitConfig":
        """The named preset (:data:`PRESETS`) with ``overrides`` by flat alias (None values are ignored)."""
        if name not in PRESETS:
            raise DvrError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
        try:
            return PRESETS[name].replaced(**overrides)
        except DvrError as exc:
            raise DvrError(str(exc), f"preset '{name}'") from None

    # ------------------------------------------------------------------ I/O
    def to_json(self) -> dict:
        """The nested JSON form, as config.json holds it (the field's ``kind`` beside its settings)."""
        data = dataclasses.asdict(self)
        data["field"] = {"kind": self.field.kind, **data["field"]}
        return data

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def from_json(cls, data: dict, source: str | Path = "config") -> "FitConfig":
        """The config of a nested JSON dict (:meth:`to_json`); DvrError naming ``source`` for an
        unknown key or a value out of range."""
        if not all(isinstance(data.get(part, {}), dict) for part in PARTS):
            raise DvrError(f"malformed config: {', '.join(PARTS)} must be objects", source)
        kinds = {part: part_class(part, data.get(part, {}), source) for part in PARTS}
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        unknown += sorted(
            f"{part}.{key}"
            for part, kind in kinds.items()
            for key in set(data.get(part, {})) - {f.name for f in dataclasses.fields(kind)} - {"kind"}
        )
        if unknown:
            raise DvrError(f"unknown config keys {unknown}", source)
        try:
            parts = {
                part: kind(**{k: v for k, v in data[part].items() if k != "kind"})
                for part, kind in kinds.items()
                if part in data
            }
            return cls(**{**data, **parts})
        except DvrError as exc:
            raise DvrError(str(exc), source) from None

    @classmethod
    def load(cls, path: Path) -> "FitConfig":
        """A run's saved config, in today's form or an older one (:func:`legacy.migrate`)."""
        from .legacy import migrate

        return cls.from_json(migrate(read_json(path), path), path)


#: The parts of a FitConfig by attribute name (the field's: the base of the field configs).
PARTS: dict[str, type[Settings]] = {
    "field": FieldConfig,
    "rendering": RenderConfig,
    "losses": LossConfig,
    "schedule": Schedule,
    "optimizer": OptimizerConfig,
    "sampler": SamplerConfig,
    "occ_grid": OccGridConfig,
}


def part_class(part: str, data: dict, source: str | Path = "config") -> type[Settings]:
    """The class of ``part`` in the nested JSON form ``data`` of that part (the field's by its ``kind``)."""
    if part != "field":
        return PARTS[part]
    kind = data.get("kind", GridFieldConfig.kind)
    if kind not in FIELD_CONFIGS:
        raise DvrError(f"config 'field.kind' must be one of {', '.join(FIELD_CONFIGS)}, got {kind!r}", source)
    return FIELD_CONFIGS[kind]


#: Presets by name.
PRESETS: dict[str, FitConfig] = {
    # Fast CPU fitting: dense multi-resolution grid field, large learning rate, few steps.
    "fast": FitConfig(),
    # The published multi-view DVR: one 512-wide residual MLP, Adam 1e-4, 1024 rays a step,
    # marching samples 16 -> 32 -> 64 -> 128 during training.
    "paper": FitConfig(
        preset="paper",
        field=PaperFieldConfig(sh_degree=0),
        rendering=RenderConfig(renderer="surface"),
        losses=LossConfig(w_normal=0.05, normal_fd_step=0.0, mask_probe="random", w_sparse=0.0),
        schedule=Schedule(iters=300000, samples_schedule=[[0, 16], [1 / 6, 32], [1 / 3, 64], [2 / 3, 128]]),
        optimizer=OptimizerConfig(lr=1e-4, lr_final_ratio=0.5),
        sampler=SamplerConfig(rays_per_step=1024, views_per_step=1, edge_ray_fraction=0.0),
    ),
}
