"""What a batch fits: a manifest (YAML or JSON, one entry per scene) or a folder of scene folders.

Manifest::

    scenes:                         # or the list alone at the top level
      - name: mug                   # optional: default the images folder's name
        images: mug/                # what `dvr fit` takes: photos, a dataset or a calibrated scene folder
        cameras: mug/cams.json      # optional (none found: cameras estimated from the photos)
        masks: mug/masks            # optional
        downscale: 2                # loading: downscale, max_size, depth, depth_scale
        holdout: 8                  # any FitConfig field (preset, iters, minutes, holdout, lr, ...)
        gt_mesh: mug/gt.ply         # optional scoring: ground-truth mesh, test cameras (with images)
        test_cameras: mug/test/cams.json

Paths are relative to the manifest's folder. Options on the command line apply to every scene;
an entry's own keys override them. Problems a user should fix before hours of fitting (a missing
folder, an unknown key, two scenes of one name) are a DvrError naming the manifest and the entry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ACCEPTED_NAMES, FitConfig
from ..errors import DvrError
from ..run import LATEST, scene_name

#: Entry keys that name files (relative to the manifest), loading options, and scoring inputs.
PATH_KEYS = ("images", "cameras", "masks", "depth", "gt_mesh", "test_cameras")
LOAD_KEYS = ("downscale", "max_size", "depth", "depth_scale")
KNOWN_KEYS = frozenset({"name", *PATH_KEYS, *LOAD_KEYS, *ACCEPTED_NAMES})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: The batch's own files in OUT, beside the scenes' run folders.
BATCH_JSON = "batch.json"
BATCH_CSV = "batch.csv"
RESERVED = (LATEST, BATCH_JSON, BATCH_CSV)


@dataclass
class SceneSpec:
    """One scene of a batch: its inputs and every option that differs from the preset.

    Attributes:
        name: the scene's run folder name under the batch's --out.
        images, cameras, masks: as ``dvr fit`` takes them (absolute paths; cameras None: found in
            ``images``, or estimated from the photos when there is no camera file).
        load: keyword arguments of ``load_scene`` besides those three (downscale, max_size, depth, ...).
        config: FitConfig overrides, ``preset`` included.
        gt_mesh, test_cameras: optional scoring inputs of ``evaluate_run``.
    """

    name: str
    images: Path
    cameras: Path | None = None
    masks: Path | None = None
    load: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    gt_mesh: Path | None = None
    test_cameras: Path | None = None

    def fit_config(self) -> FitConfig:
        """The scene's FitConfig: its preset with its overrides."""
        values = dict(self.config)
        return FitConfig.from_preset(values.pop("preset", None) or "fast", **values)


def _read(path: Path) -> object:
    try:
        text = path.read_text()
    except OSError as exc:
        raise DvrError(f"cannot read the manifest ({exc.strerror or exc})", path) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DvrError(f"not valid JSON (line {exc.lineno}: {exc.msg})", path) from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise DvrError(f"not valid YAML ({where}{getattr(exc, 'problem', None) or exc})", path) from None


def _entry(raw: object, index: int, base: Path, defaults: dict, source: Path) -> SceneSpec:
    """One manifest entry (``defaults`` under it) -> SceneSpec; DvrError naming the entry."""
    label = f"scene {index + 1}"
    if isinstance(raw, str):
        raw = {"images": raw}
    if not isinstance(raw, dict):
        raise DvrError(f"{label}: an entry must be a mapping (images: ..., cameras: ...) or a path", source)
    if isinstance(raw.get("name"), str):
        label = f"scene '{raw['name']}'"
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        known = ", ".join(dict.fromkeys(("name", *PATH_KEYS, *LOAD_KEYS)))
        raise DvrError(
            f"{label}: unknown key(s) {', '.join(map(str, unknown))} (known: {known} and the "
            "FitConfig fields: preset, iters, minutes, holdout, ...)",
            source,
        )
    if "images" not in raw:
        raise DvrError(f"{label}: 'images' is required", source)
    values = {**defaults, **{k: v for k, v in raw.items() if v is not None}}
    paths = {}
    for key in PATH_KEYS:
        if values.get(key) is not None:
            path = (base / str(values[key])).resolve()
            if not path.exists():
                raise DvrError(f"{label}: {key} {path} does not exist", source)
            paths[key] = path
    name = str(values.get("name") or scene_name(paths["images"]))
    if not _NAME.match(name) or name.lower() in RESERVED:
        raise DvrError(
            f"{label}: name '{name}' must be letters, digits, '.', '_' or '-' (and not "
            f"{', '.join(RESERVED)}, the batch's own files)",
            source,
        )
    spec = SceneSpec(
        name=name,
        images=paths["images"],
        cameras=paths.get("cameras"),
        masks=paths.get("masks"),
        load={k: (paths[k] if k in paths else values[k]) for k in LOAD_KEYS if values.get(k) is not None},
        config={k: values[k] for k in ACCEPTED_NAMES if values.get(k) is not None},
        gt_mesh=paths.get("gt_mesh"),
        test_cameras=paths.get("test_cameras"),
    )
    try:
        spec.fit_config()
    except (DvrError, TypeError, ValueError) as exc:
        raise DvrError(f"{label}: {exc}", source) from None
    return spec


def _check_unique(specs: list[SceneSpec], source: Path) -> list[SceneSpec]:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise DvrError(f"two scenes are named '{spec.name}': give them distinct 'name's", source)
        seen.add(spec.name)
    if not specs:
        raise DvrError("no scenes to fit", source)
    return specs


def read_manifest(path: str | Path, defaults: dict | None = None) -> list[SceneSpec]:
    """Scenes of a YAML / JSON manifest; ``defaults`` (command-line options, entry keys) apply
    to every entry that does not set them. DvrError for a missing file or folder, a malformed
    file, an unknown key, a bad option value or a repeated name."""
    path = Path(path)
    data = _read(path)
    entries = data.get("scenes") if isinstance(data, dict) else data
    if isinstance(data, dict) and set(data) - {"scenes"}:
        raise DvrError(
            f"unknown top-level key(s) {', '.join(sorted(set(data) - {'scenes'}))} (expected 'scenes')", path
        )
    if not isinstance(entries, list):
        raise DvrError("expected a list of scenes (or 'scenes:' holding one)", path)
    base = path.resolve().parent
    return _check_unique([_entry(raw, i, base, defaults or {}, path) for i, raw in enumerate(entries)], path)


def scan_folder(folder: str | Path, defaults: dict | None = None, exclude: Path | None = None) -> list[SceneSpec]:
    """One scene per sub-folder of ``folder`` (hidden ones and ``exclude``, the batch's output, left
    out), each given to ``dvr fit`` as it is, with ``defaults`` for options."""
    folder = Path(folder)
    skip = None if exclude is None else Path(exclude).resolve()
    subfolders = sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.resolve() != skip
    )
    return _check_unique(
        [
            _entry({"images": p.name, "name": p.name}, i, folder.resolve(), defaults or {}, folder)
            for i, p in enumerate(subfolders)
        ],
        folder,
    )


def read_scenes(source: str | Path, defaults: dict | None = None, exclude: Path | None = None) -> list[SceneSpec]:
    """A manifest file or a folder of scene folders -> its scenes (see the module's docstring)."""
    source = Path(source)
    if source.is_dir():
        return scan_folder(source, defaults, exclude)
    if not source.exists():
        raise DvrError("does not exist (give a manifest .yaml / .json or a folder of scene folders)", source)
    return read_manifest(source, defaults)
