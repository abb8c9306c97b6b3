"""Occupancy + texture fields over the unit cube, each built by its config's ``setup()``."""

from .base import Field, FieldConfig, sphere_prior_logit, tau_logit
from .grid import GridField, GridFieldConfig
from .paper import PaperField, PaperFieldConfig

#: The field configs by kind (config.json's ``field.kind``, the flat alias ``field``).
FIELD_CONFIGS: dict[str, type[FieldConfig]] = {c.kind: c for c in (GridFieldConfig, PaperFieldConfig)}

__all__ = [
    "FIELD_CONFIGS",
    "Field",
    "FieldConfig",
    "GridField",
    "GridFieldConfig",
    "PaperField",
    "PaperFieldConfig",
    "sphere_prior_logit",
    "tau_logit",
]
