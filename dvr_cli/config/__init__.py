"""The typed configuration of a fit: FitConfig and its parts, presets, flat aliases, saving and older forms."""

from .fitconfig import DEFAULT_MINUTES, MAX_CHECKPOINT_INTERVAL_S, PARTS, PRESETS, FitConfig
from .flat import ACCEPTED_NAMES, FLAT_NAMES
from .legacy import migrate
from .parts import LossConfig, RenderConfig, Schedule

__all__ = [
    "ACCEPTED_NAMES",
    "DEFAULT_MINUTES",
    "FLAT_NAMES",
    "MAX_CHECKPOINT_INTERVAL_S",
    "PARTS",
    "PRESETS",
    "FitConfig",
    "LossConfig",
    "RenderConfig",
    "Schedule",
    "migrate",
]
