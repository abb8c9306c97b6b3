"""Surface extraction (MISE), clean-up, colouring / atlas baking and mesh writers."""

from .export import export_mesh, extract_run_surface
from .mise import extract_surface

__all__ = ["export_mesh", "extract_run_surface", "extract_surface"]
