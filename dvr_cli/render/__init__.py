"""DVR's surface renderer: rays, marching + secant, the implicit-gradient depth, normals, bit-grid."""

from ..fields.normals import normals
from .implicit import surface_depth
from .march import SurfaceHits, find_surface
from .occgrid import OccupancyGrid
from .rays import camera_rays, intersect_cube
from .renderer import render_image, render_rays

__all__ = [
    "OccupancyGrid",
    "SurfaceHits",
    "camera_rays",
    "find_surface",
    "intersect_cube",
    "normals",
    "render_image",
    "render_rays",
    "surface_depth",
]
