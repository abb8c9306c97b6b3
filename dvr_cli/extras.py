"""The optional parts of dvr and the pip extra that installs each.

`dvr batch` runs on Ray (extra ``batch``) and the viewer (`dvr view`, `dvr fit --viewer`) on viser
(extra ``viewer``); the rest of dvr imports neither, so a plain ``pip install dvr-cli`` fits,
exports and evaluates. `make` installs every extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import DvrError

#: The top-level package of each optional part -> (its pip extra, what needs it).
EXTRAS = {"ray": ("batch", "dvr batch"), "viser": ("viewer", "the viewer (dvr view, dvr fit --viewer)")}


def require(module: str) -> ModuleType:
    """``module`` (e.g. ``"ray"``, ``"viser.transforms"``), imported; DvrError in one line naming the
    pip command that installs its extra when it cannot be imported."""
    extra, user = EXTRAS[module.split(".")[0]]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DvrError(f"{user} needs the '{extra}' extra ({reason}): pip install 'dvr-cli[{extra}]'") from None
