"""Fitting: pixel sampling, loss terms, the optimisation loop, checkpoints and the run folder."""

from .run import LoadedRun, load_run, load_run_scene
from .trainer import FitResult, fit

__all__ = ["FitResult", "LoadedRun", "fit", "load_run", "load_run_scene"]
