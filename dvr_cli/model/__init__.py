"""The DVR model: the fitted field, the background and the occupancy grid; a batch's outputs and loss terms
(dvr.py, from the loss terms of losses.py), and the render of a camera.

The names below load on first use, so that the ray sampler (below config/) can import batch.py without
loading the model, which stands on config/."""

from importlib import import_module

_HOMES = {"DVRModel": "dvr_model", "RayBatch": "ray_batch"}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
