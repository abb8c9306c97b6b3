"""Flat aliases: one name per setting, unique over the parts, as the command line, batch manifests,
``FitConfig.from_preset(name, **flat)`` and ``cfg.replaced(**flat)`` give settings (``tau``,
``rays_per_step``, ``grid_resolutions``, ...). The structure (FitConfig's parts) is the truth: an
alias is a setting's attribute name unless its part's ``FLAT`` gives another, and ``field`` picks
the field's kind. A field's settings apply to its kind; given for the other kind they are ignored.
Names renamed since (renamed.py) are accepted as the new ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

from ..errors import DvrError
from ..fields import FIELD_CONFIGS
from .fitconfig import PARTS, FitConfig
from .renamed import RENAMED

FIELD = "field"  # the part that holds the field


class Place(NamedTuple):
    """Where a flat alias lives: ``part`` (None: FitConfig itself), ``attribute``, and the field
    kinds it applies to (None: every config)."""

    part: str | None
    attribute: str
    kinds: frozenset[str] | None = None


def _aliases(kind) -> dict[str, str]:
    """attribute -> flat alias of a part's class."""
    return {f.name: kind.FLAT.get(f.name, f.name) for f in dataclasses.fields(kind)}


def _places() -> dict[str, Place]:
    places = {f.name: Place(None, f.name) for f in dataclasses.fields(FitConfig) if f.name not in PARTS}
    places["field"] = Place(FIELD, "kind")

    def add(alias: str, place: Place) -> None:
        assert alias not in places, f"flat alias '{alias}' is not unique"
        places[alias] = place

    for part, kind in PARTS.items():
        if part != FIELD:
            for attribute, alias in _aliases(kind).items():
                add(alias, Place(part, attribute))
    for kind, config in FIELD_CONFIGS.items():
        for attribute, alias in _aliases(config).items():
            known = places.get(alias)
            if known is not None and known.part == FIELD and known.attribute == attribute:
                places[alias] = known._replace(kinds=known.kinds | {kind})
            else:
                add(alias, Place(FIELD, attribute, frozenset({kind})))
    return places


#: Every flat alias and where it lives.
PLACES: dict[str, Place] = _places()
#: Every flat alias.
FLAT_NAMES = tuple(PLACES)
#: Every name a setting may be given by: the flat aliases and their older names.
ACCEPTED_NAMES = (*FLAT_NAMES, *RENAMED)


def flat_values(cfg: FitConfig) -> dict:
    """Every setting of ``cfg`` (its field's kind's) by flat alias."""
    data = cfg.to_json()
    kind = cfg.field.kind
    return {
        alias: data[place.attribute] if place.part is None else data[place.part][place.attribute]
        for alias, place in PLACES.items()
        if place.kinds is None or kind in place.kinds
    }


def nest(values: dict, source: str | Path = "config") -> dict:
    """Settings by flat alias -> the nested JSON form (only the parts' keys given; the field's kind
    ``field``, grid when not given; an older name as its new one); DvrError for an unknown alias."""
    unknown = sorted(set(values) - set(ACCEPTED_NAMES))
    if unknown:
        raise DvrError(f"unknown config keys {unknown}", source)
    values = current_names(values, source)
    kind = values.get("field", next(iter(FIELD_CONFIGS)))
    if kind not in FIELD_CONFIGS:
        raise DvrError(f"config 'field' must be one of {', '.join(FIELD_CONFIGS)}, got {kind!r}", source)
    nested: dict = {part: {} for part in PARTS}
    for alias, value in values.items():
        place = PLACES[alias]
        if place.part is None:
            nested[alias] = value
        elif place.kinds is None or kind in place.kinds:
            nested[place.part][place.attribute] = value
    return nested


def current_names(values: dict, source: str | Path = "config") -> dict:
    """Settings by flat alias with the older names (renamed.py) given as the new ones; DvrError when a
    setting is given by both."""
    twice = sorted(old for old, new in RENAMED.items() if old in values and new in values)
    if twice:
        raise DvrError(f"config gives {twice[0]} and its new name {RENAMED[twice[0]]}: give one", source)
    return {RENAMED.get(name, name): value for name, value in values.items()}
