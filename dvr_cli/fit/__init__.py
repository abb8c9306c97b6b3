"""Fitting: the data (data.py: views, rays, sight lines), the optimisation loop (trainer.py: ``fit`` and
``resume``) and its hooks; the model it fits is dvr_cli.model.

The names below load on first use, so that config/ can read the sampler's config (sampler.py, which
stands on scene/ and render/ alone) without loading the loop, which stands on config/."""

from importlib import import_module

_HOMES = {
    "FitJob": "trainer",
    "FitResult": "trainer",
    "LoopHook": "hooks",
    "StepRecord": "trainer",
    "fit": "trainer",
    "resume": "trainer",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
