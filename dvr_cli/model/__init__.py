"""The DVR model: the fitted field, the background and the occupancy grid; a batch's outputs and loss terms
(dvr.py, from the loss terms of losses.py), and the render of a camera."""

from .batch import RayBatch
from .dvr import DVRModel

__all__ = ["DVRModel", "RayBatch"]
