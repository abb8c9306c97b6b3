"""Fitting: pixel sampling, the DVR objective (model.py), the optimisation loop (trainer.py) and its hooks."""

from .hooks import LoopHook
from .model import StepRecord
from .trainer import FitJob, FitResult, fit

__all__ = ["FitJob", "FitResult", "LoopHook", "StepRecord", "fit"]
