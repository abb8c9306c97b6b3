"""Occupancy + texture fields over the unit cube (``config.FieldConfig.setup()`` picks one)."""

from .base import Field, sphere_prior_logit, tau_logit
from .grid import GridField
from .paper import PaperField

__all__ = ["Field", "GridField", "PaperField", "sphere_prior_logit", "tau_logit"]
