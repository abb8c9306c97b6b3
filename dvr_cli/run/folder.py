"""The run folder that `dvr fit` writes and every later command reads: its file names and the
small operations on them.

    RUN/config.json            FitConfig of the fit
    RUN/scene.json             normalisation, world cameras, image/mask paths, how the scene was
                               loaded, train and held-out view indices (record.SceneRecord)
    RUN/checkpoints/latest.pt  field + optimiser + RNG state (atomic, see checkpoint.py)
    RUN/metrics.jsonl          one JSON object per logged iteration
    RUN/previews/iter_XXXXXX.png
    RUN/eval.json, RUN/export/, RUN/renders/   written by `dvr eval`, `dvr export`, `dvr render`
    RUN/.lock                  held by the one process writing the run (lock.py)
    RUN/.dvr-owned             dvr's marker (ownership.py) with the files dvr wrote: a fit writes only
                               into a folder that is new, empty or an earlier run of dvr's
    runs/latest -> RUN         relative symlink to the newest run, in a folder named runs only
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from ..errors import DvrError
from ..files import append_text, write_text_atomic
from ..ownership import mark, marked_kind, real

CONFIG = "config.json"
SCENE = "scene.json"
CHECKPOINT = Path("checkpoints") / "latest.pt"
SPARSE = "sparse_points.npz"  # points triangulated from the training photos (a resume reuses them)
METRICS = "metrics.jsonl"
PREVIEWS = "previews"
EVAL = "eval.json"
EXPORT = "export"
EXPORTED_MESHES = ("mesh.ply", "mesh.glb", "mesh.obj")  # `dvr export`'s default files, in RUN/export
RENDERS = "renders"
LOCK = ".lock"
LATEST = "latest"
RUNS = "runs"  # dvr's own folder of runs: the default root (in the working folder) and home of `latest`


_NOT_NAMES = {"images", "image", "rgb"}  # folder names that say nothing about the scene


def scene_name(images: Path) -> str:
    """A run name for ``images``: the folder's name, or its parent's for a bare images/ folder."""
    path = Path(images).resolve()
    if path.is_file():
        path = path.parent
    return path.parent.name if path.name.lower() in _NOT_NAMES else path.name


def default_run_dir(scene_name: str, root: Path = Path(RUNS)) -> Path:
    """runs/<scene-name>-<YYYYmmdd-HHMMSS>."""
    return Path(root) / f"{scene_name or 'scene'}-{time.strftime('%Y%m%d-%H%M%S')}"


def resolve_run_dir(run_dir: str | Path | None) -> Path:
    """``run_dir`` or, when None, the target of ./runs/latest; DvrError when absent."""
    if run_dir is None:
        latest = Path(RUNS) / LATEST
        if not latest.exists():
            raise DvrError("no run given and runs/latest does not exist (run `dvr fit` first or name a run folder)")
        run_dir = latest
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DvrError("not a run folder", run_dir)
    return run_dir.resolve()


def append_metrics(run_dir: Path, record: dict) -> None:
    append_text(Path(run_dir) / METRICS, json.dumps(record) + "\n")


def read_metrics(run_dir: Path) -> list[dict]:
    """The records of metrics.jsonl ([] when there is none); DvrError for a broken line."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise DvrError(f"line {number} is not valid JSON", path) from None
    return records


def truncate_metrics(run_dir: Path, iteration: int) -> None:
    """Drop records past ``iteration``: a fit resumed from an older checkpoint logs them again."""
    path = Path(run_dir) / METRICS
    if path.is_file():
        kept = [r for r in read_metrics(run_dir) if r.get("iter", 0) <= iteration]
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


def is_dvr_run(folder: Path) -> bool:
    """``folder`` is a run folder dvr wrote: its marker says so, or (a run from before the marker)
    it holds config.json and a checkpoint."""
    folder = Path(folder)
    return marked_kind(folder) == "run" or ((folder / CONFIG).is_file() and (folder / CHECKPOINT).is_file())


def adopt_old_run(run_dir: Path) -> None:
    """Mark a run written before dvr marked its folders (config.json and a checkpoint, no marker) as
    a run whose files are the names a run always held (``ownership.LEGACY_NAMES``), so that resuming,
    exporting or evaluating it may rewrite them."""
    run_dir = Path(run_dir)
    if marked_kind(run_dir) is None and is_dvr_run(run_dir):
        mark(run_dir, "run", legacy=True)


def _latest_is_ours(link: Path) -> bool:
    """``link`` is absent, or dvr's: a symlink to a sibling name that is a dvr run or is gone."""
    if not link.is_symlink():
        return not link.exists()
    target = os.readlink(link)
    if Path(target).name != target or target in (".", ".."):
        return False
    sibling = link.parent / target
    return not sibling.exists() or is_dvr_run(sibling)


def update_latest_link(run_dir: Path) -> None:
    """Point ``runs/latest`` at ``run_dir`` (relative link, swapped atomically) when ``run_dir`` lies in
    a folder named ``runs`` (dvr's own, where `dvr fit` puts runs and later commands look for
    ``runs/latest``); a run elsewhere (``--out ~/scans/fox_run``) gets no link beside it.

    Only a ``latest`` that is absent or dvr's own link is changed; anything else (a file, a
    folder, a user's link elsewhere) is not ours to replace and is left alone.
    """
    run_dir = real(run_dir)
    link = run_dir.parent / LATEST
    if run_dir.name == LATEST or run_dir.parent.name != RUNS or not _latest_is_ours(link):
        return
    while True:  # a fresh name: never one someone else's file has
        tmp = run_dir.parent / f".{LATEST}.{secrets.token_hex(8)}.tmp"
        try:
            tmp.symlink_to(run_dir.name, target_is_directory=True)
            break
        except FileExistsError:
            continue
    try:
        os.replace(tmp, link)
    finally:
        tmp.unlink(missing_ok=True)
