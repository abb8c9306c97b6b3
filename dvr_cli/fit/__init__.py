"""Fitting: the data (data.py: views, rays, sight lines), the optimisation loop (trainer.py: ``fit`` and
``resume``) and its hooks; the model it fits is dvr_cli.model."""

from .hooks import LoopHook
from .trainer import FitJob, FitResult, StepRecord, fit, resume

__all__ = ["FitJob", "FitResult", "LoopHook", "StepRecord", "fit", "resume"]
