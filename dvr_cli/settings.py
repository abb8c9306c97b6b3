"""The machinery of the typed settings: a value declared with its check (``setting``), a dataclass
that checks every value it holds (``Settings``), and the checks the settings share.

A part of a fit's configuration is declared next to what it builds (``GridFieldConfig`` in
fields/grid.py, ``SamplerConfig`` in fit/sampler.py, ...): its ``_target`` is the class it builds
and its ``setup(...)`` builds one. ``FLAT`` names the settings whose flat alias (the name the
command line and batch manifests give, config/flat.py) differs from the attribute's."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, ClassVar

from .errors import DvrError

_NONE = dataclasses.MISSING


def setting(
    default: Any = _NONE, *, factory: Callable[[], Any] | None = None, check: Callable[[Any], bool], want: str
) -> Any:
    """A dataclass field whose value must satisfy ``check`` (``want`` says what it must be)."""
    metadata = {"check": check, "want": want}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class Settings:
    """A dataclass of settings declared with :func:`setting`: every value is checked when it is made
    (DvrError naming the first one out of range or of the wrong type); ``rules()`` adds checks that
    relate two values of the class."""

    #: what ``setup()`` builds (None: a part that builds nothing)
    _target: ClassVar[Callable | None] = None
    #: attribute -> flat alias, for the settings whose flat alias is not the attribute's name
    FLAT: ClassVar[dict[str, str]] = {}

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if "check" in f.metadata and not f.metadata["check"](getattr(self, f.name)):
                _refuse(f.name, f.metadata["want"], getattr(self, f.name))
        for name, holds, want in self.rules():
            if not holds:
                _refuse(name, want, getattr(self, name))

    def rules(self) -> list[tuple[str, bool, str]]:
        """(name, holds, what it must be) for checks across values; none by default."""
        return []


def _refuse(name: str, want: str, value) -> None:
    raise DvrError(f"config '{name}' must be {want}, got {value!r}")


# ------------------------------------------------------------------------------ checks
def number(value) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: integer(v) and v >= low


def number_in(low: float, high: float = math.inf, open_low: bool = False, open_high: bool = False):
    """A number within [low, high], each end open when asked."""
    return lambda v: number(v) and (v > low if open_low else v >= low) and (v < high if open_high else v <= high)


def int_list(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and all(integer(x) and x >= low for x in v)


def one_of(*choices) -> Callable[[Any], bool]:
    return lambda v: v in choices


def boolean(value) -> bool:
    return isinstance(value, bool)


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)
