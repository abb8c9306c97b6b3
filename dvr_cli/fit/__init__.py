"""Fitting: pixel sampling, the DVR objective (model.py), the optimisation loop (trainer.py)."""

from .model import StepRecord
from .trainer import FitJob, FitResult, fit

__all__ = ["FitJob", "FitResult", "StepRecord", "fit"]
