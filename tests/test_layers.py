"""No import runs back up: every module of dvr_cli imports only from its own layer or lower ones
(docs/ARCHITECTURE.md's table), lazy imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import dvr_cli

# calib/ stands on scene/ and render/ on fields/ within their layers: half a layer above them; config/
# stands on the parts it composes (fields/, render/occgrid.py, fit/sampler.py), and the fit's ray
# sampler (with the sight lines it draws on and the batch it returns, model/ray_batch.py) stands on scene/,
# calib/ and render/ alone, below config/; model/ (the DVR model: field, background, occupancy grid,
# their outputs and losses) on config/ and render/, and run/ on model/ (a loaded run is a model).
LAYERS = {
    "errors": 0,
    "extras": 0,
    "files": 0,
    "image_files": 0,
    "ownership": 0,
    "runtime": 0,
    "settings": 0,
    "scene": 1,
    "calib": 1.5,
    "fields": 2,
    "render": 2.5,
    "fit.sampler": 2.6,
    "fit.sightlines": 2.6,
    "model.ray_batch": 2.6,
    "config": 2.75,
    "model": 2.9,
    "run": 3,
    "fit": 4,
    "mesh": 4,
    "evaluate": 4,
    "viewer": 5,
    "batch": 5,
    "cli": 6,
    "commands": 6,
}
ROOT = Path(dvr_cli.__file__).parent


def imported_parts(relative: Path, source: str) -> list[str]:
    """The top-level parts of dvr_cli (LAYERS' keys) that ``source``, the module at ``relative``
    inside dvr_cli, imports."""
    package = ["dvr_cli", *relative.parent.parts]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                module = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            else:
                module = (node.module or "").split(".")
            names = [module + [alias.name] for alias in node.names] if len(module) == 1 else [module]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        found += [layer_key(name[1:]) for name in names if name[0] == "dvr_cli" and len(name) > 1 and name[1] in LAYERS]
    return found


def layer_key(parts) -> str:
    """The key of LAYERS of the module dvr_cli.<parts> (a module with a layer of its own, or its top-level part)."""
    own = ".".join(parts[:2])
    return own if own in LAYERS else parts[0]


def test_no_import_runs_back_up():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        part = layer_key([p.removesuffix(".py") for p in relative.parts])
        if part == "__init__":
            continue
        upward += [
            f"{relative} -> {other}"
            for other in imported_parts(relative, path.read_text())
            if LAYERS[other] > LAYERS[part]
        ]
    assert not upward, upward


def test_the_check_sees_relative_and_lazy_imports():
    source = (
        "from ..render.march import find_surface\nfrom . import base\n\ndef f():\n    from dvr_cli.fit import fit\n"
    )
    assert imported_parts(Path("fields/probe.py"), source) == ["render", "fields", "fit"]
    assert imported_parts(Path("config/probe.py"), "from ..fit.sampler import SamplerConfig\n") == ["fit.sampler"]


def test_rich_prints_only_in_the_commands_and_the_viewer():
    printing = sorted(
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if any(
            isinstance(node, (ast.Import, ast.ImportFrom))
            and any(
                name.split(".")[0] == "rich"
                for name in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
            )
            for node in ast.walk(ast.parse(path.read_text()))
        )
        and path.relative_to(ROOT).parts[0] not in ("commands", "viewer")
    )
    assert not printing, printing
