"""FitConfig: every setting of a fit, in its parts (parts.py), with presets; saved as JSON with every run.

Each setting has one name, unique over the parts: ``FitConfig.from_preset(name, iters=..., tau=...)``
and the command line's options give settings by that flat name, and :func:`nest` puts each in its part."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..errors import DvrError
from ..files import read_json, write_json
from .parts import FieldConfig, LossWeights, RenderConfig, SamplerConfig, Schedule
from .settings import Settings, int_at_least, integer, number_in, optional, setting

DEFAULT_MINUTES = 10.0  # the budget of a fit given neither --iters nor --minutes
MAX_CHECKPOINT_INTERVAL_S = 120.0  # a kill -9 loses at most this much work


def _string(value) -> bool:
    return isinstance(value, str)


@dataclass
class FitConfig(Settings):
    """Every setting of a fit, in parts: ``network`` (the field), ``rendering``, ``losses``,
    ``schedule`` (the plan), ``sampler`` (the rays); the data and the bookkeeping stay at the top.
    ``preset`` names the defaults it started from."""

    preset: str = setting("fast", check=_string, want="a string")
    network: FieldConfig = dataclasses.field(default_factory=FieldConfig)
    rendering: RenderConfig = dataclasses.field(default_factory=RenderConfig)
    losses: LossWeights = dataclasses.field(default_factory=LossWeights)
    schedule: Schedule = dataclasses.field(default_factory=Schedule)
    sampler: SamplerConfig = dataclasses.field(default_factory=SamplerConfig)

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

    # ------------------------------------------------------------------ flat names
    def flat(self) -> dict:
        """Every setting by its flat name (as the command line and the presets name them)."""
        return flatten(self.to_json())

    @classmethod
    def from_flat(cls, values: dict, source: str | Path = "config") -> "FitConfig":
        """The config of settings given by flat name (the others take their defaults)."""
        return cls.from_json(nest(values, source), source)

    def replaced(self, **values) -> "FitConfig":
        """This config with the settings named (flat names) replaced; None values are ignored."""
        return FitConfig.from_flat({**self.flat(), **{k: v for k, v in values.items() if v is not None}})

    @classmethod
    def from_preset(cls, name: str = "fast", **overrides) -> "FitConfig":
        """The named preset with ``overrides`` by flat name (None values are ignored)."""
        if name not in PRESETS:
            raise DvrError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
        values = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
        return cls.from_flat(values, f"preset '{name}'")

    # ------------------------------------------------------------------ I/O
    def to_json(self) -> dict:
        """The nested JSON form, as config.json holds it."""
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def from_json(cls, data: dict, source: str | Path = "config") -> "FitConfig":
        """The config of a nested JSON dict (:meth:`to_json`); DvrError naming ``source`` for an
        unknown key or a value out of range."""
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        unknown += sorted(
            f"{part}.{key}"
            for part, kind in PARTS.items()
            if isinstance(data.get(part), dict)
            for key in set(data[part]) - {f.name for f in dataclasses.fields(kind)}
        )
        if unknown:
            raise DvrError(f"unknown config keys {unknown}", source)
        try:
            parts = {part: kind(**data[part]) for part, kind in PARTS.items() if part in data}
            return cls(**{**data, **parts})
        except DvrError as exc:
            raise DvrError(str(exc), source) from None
        except TypeError:
            raise DvrError(f"malformed config: {', '.join(PARTS)} must be objects", source) from None

    @classmethod
    def load(cls, path: Path) -> "FitConfig":
        """A run's saved config, in today's form or an older one (:func:`legacy.migrate`)."""
        from .legacy import migrate

        return cls.from_json(migrate(read_json(path), path), path)


#: The parts of a FitConfig, by attribute name.
PARTS = {
    "network": FieldConfig,
    "rendering": RenderConfig,
    "losses": LossWeights,
    "schedule": Schedule,
    "sampler": SamplerConfig,
}
#: The part each flat name lives in (None: FitConfig itself).
PLACE = {f.name: None for f in dataclasses.fields(FitConfig) if f.name not in PARTS}
for _part, _kind in PARTS.items():
    for _f in dataclasses.fields(_kind):
        assert _f.name not in PLACE, f"setting name '{_f.name}' is not unique"
        PLACE[_f.name] = _part
#: Every flat setting name.
FLAT_NAMES = tuple(PLACE)


def nest(values: dict, source: str | Path = "config") -> dict:
    """Settings by flat name -> the nested JSON form (only the parts' keys given); DvrError for an unknown name."""
    unknown = sorted(set(values) - set(PLACE))
    if unknown:
        raise DvrError(f"unknown config keys {unknown}", source)
    nested = {part: {} for part in PARTS}
    for name, value in values.items():
        if PLACE[name] is None:
            nested[name] = value
        else:
            nested[PLACE[name]][name] = value
    return nested


def flatten(data: dict) -> dict:
    """The nested JSON form (or a flat one) -> settings by flat name."""
    flat = {}
    for key, value in data.items():
        if key in PARTS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


#: Presets by name, in flat names.
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
