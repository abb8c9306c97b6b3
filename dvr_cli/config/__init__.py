"""The typed configuration of a fit: FitConfig and its parts, presets, saving and older forms."""

from .fitconfig import DEFAULT_MINUTES, FLAT_NAMES, MAX_CHECKPOINT_INTERVAL_S, PARTS, PRESETS, FitConfig
from .legacy import migrate
from .parts import FieldConfig, LossWeights, RenderConfig, SamplerConfig, Schedule

__all__ = [
    "DEFAULT_MINUTES",
    "FLAT_NAMES",
    "MAX_CHECKPOINT_INTERVAL_S",
    "PARTS",
    "PRESETS",
    "FieldConfig",
    "FitConfig",
    "LossWeights",
    "RenderConfig",
    "SamplerConfig",
    "Schedule",
    "migrate",
]
