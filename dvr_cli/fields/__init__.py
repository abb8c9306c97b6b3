"""Occupancy + texture fields over the unit cube; :func:`build_field` picks one from the config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import DvrError
from .base import Field, sphere_prior_logit, tau_logit
from .grid import GridField
from .paper import PaperField

if TYPE_CHECKING:  # runtime import not needed: build_field only reads attributes
    from ..config import FitConfig

__all__ = ["Field", "GridField", "PaperField", "build_field", "sphere_prior_logit", "tau_logit"]


def build_field(cfg: FitConfig) -> Field:
    """The field backbone named by ``cfg.field``: 'grid' (fast, CPU) or 'paper' (DVR's 512-wide MLP)."""
    if cfg.field == "grid":
        return GridField(cfg.grid_resolutions, cfg.grid_features, cfg.mlp_hidden, hidden_layers=cfg.mlp_hidden_layers,
                         init_radius=cfg.init_radius, prior_sharpness=cfg.prior_sharpness,
                         grid_init_std=cfg.grid_init_std, head_scale=cfg.head_scale, sh_degree=cfg.sh_degree,
                         hash_resolutions=cfg.hash_resolutions, hash_features=cfg.hash_features,
                         hash_table_log2=cfg.hash_table_log2, shading_hidden=cfg.shading_hidden,
                         shading_fd_step=cfg.normal_fd_step or type(cfg).normal_fd_step)  # its default if 0
    if cfg.field == "paper":
        return PaperField(cfg.paper_hidden, cfg.paper_blocks, init_radius=cfg.init_radius,
                          prior_sharpness=cfg.prior_sharpness, head_scale=cfg.head_scale, sh_degree=cfg.sh_degree)
    raise DvrError(f"unknown field '{cfg.field}' (choose 'grid' or 'paper')")
