"""torch.compile of a field's per-point work, falling back to eager where it cannot compile.

The method a field names in ``Field.per_point`` (the encoding and the MLP: what the marcher and the
step run on every point) is replaced on the instance by its ``torch.compile`` with dynamic shapes,
so the ray and point counts that change every step do not recompile; a change of grad mode (the
marcher's no_grad against the step) or of the active grid levels (coarse-to-fine) does, a few
times a fit. Compilation happens at the first calls, inside the fit's clock: a time-planned fit
counts its warm-up in its budget. A compile that fails (no C++ compiler, an op the compiler cannot
take) is reported in one line and the field runs eagerly from then on; the state dict is untouched.
"""

from __future__ import annotations

import sys
from typing import Callable

import torch

from .base import Field


def _stderr_line(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class FieldCompilation:
    """The compiled per-point method of one field; ``active`` until a compile fails."""

    def __init__(self, field: Field, warn: Callable[[str], None] = _stderr_line):
        if field.per_point is None:
            raise ValueError(f"{type(field).__name__} names no per-point method to compile")
        self.name = field.per_point
        self.eager = getattr(field, self.name)
        self.compiled = torch.compile(self.eager, dynamic=True)
        self.warn = warn
        self.active = True
        setattr(field, self.name, self)  # an instance attribute: not a parameter, not in the state dict

    def __call__(self, *args, **kwargs):
        if self.active:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any failure of the compiler means: run eagerly
                self.active = False
                reason = (str(exc).strip().splitlines() or [""])[0][:200]
                self.warn(
                    f"warning: torch.compile of the field failed ({type(exc).__name__}: {reason}); fitting uncompiled"
                )
        return self.eager(*args, **kwargs)


def compile_field(field: Field, enabled: bool, warn: Callable[[str], None] = _stderr_line) -> FieldCompilation | None:
    """Compile ``field``'s per-point method in place when ``enabled`` (and the field names one);
    returns the FieldCompilation (its ``active`` says whether compiled code runs), else None."""
    if not enabled or field.per_point is None:
        return None
    return FieldCompilation(field, warn)
