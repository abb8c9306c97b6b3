"""One scene of a batch, start to end: calibrate (no cameras) -> fit -> export -> eval.

:func:`process_scene` is what a Ray task runs, with the library API (no subprocess). It is
safe to run again on the same folder: a scene whose ``batch_result.json`` exists is returned as
it is while its settings are unchanged (``batch_settings.json``: a hash of its resolved config,
loading and export options and its input files; a scene whose settings changed starts over), a
scene with a checkpoint resumes from it (a Ray retry after its worker died, or a new
run of the batch), and every start is logged in ``attempts.jsonl`` with the iteration it
started from. The run folder is ``OUT/<name>/`` (calibrated photos in ``OUT/<name>/calibrated/``).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import DvrError
from ..evaluate.report import evaluate_run, json_safe
from ..files import append_text, read_json, write_json
from ..fit import fit, resume
from ..mesh.export import export_mesh
from ..ownership import claim_folder, discard_folder
from ..run import CHECKPOINT, load_run
from ..run.checkpoint import load_checkpoint
from ..scene import detect_format, load_scene
from .manifest import SceneSpec

RESULT = "batch_result.json"
SETTINGS = "batch_settings.json"
#: Raised when the hash changes for every scene: 2, the nested config and its new
#: ``shading_fd_step``; 3, the inputs by content, not modification time (a version 2 hash that
#: still matches is rewritten as version 3: those scenes are kept).
SETTINGS_VERSION = 3
ATTEMPTS = "attempts.jsonl"
CALIBRATED = "calibrated"
#: Scores taken from eval.json: image metrics (means over the views) and geometry.
IMAGE_SCORES = ("masked_psnr", "psnr", "ssim", "iou")
GEOMETRY_SCORES = ("chamfer_l1", "fscore")

#: report(stage, iteration, total): where a running scene is ('calibrate', 'fit', 'export', 'eval').
Report = Callable[[str, int, int], None]


@dataclass
class ExportOptions:
    """How every scene's mesh is written (``dvr export``'s --format / --resolution)."""

    fmt: str = "ply"
    resolution: int = 256


@dataclass
class SceneResult:
    """What became of one scene.

    Attributes:
        name: the scene's name; run_dir: its run folder.
        status: 'done' or 'failed'; error: the one-line reason of a failure.
        iterations: iterations fitted in all.
        attempts: the iteration each start of the scene's fit began from ([0] for one clean run;
            [0, 180] when a worker died and the retry resumed at iteration 180).
        seconds: wall-clock seconds per stage of the last attempt ('load', calibration included;
            'fit', 'export', 'eval') and 'total'.
        mesh: the exported mesh; scores: eval.json's means (IMAGE_SCORES, GEOMETRY_SCORES) present.
        host: the machine that ran it; reused: an earlier run of the batch had finished it.
    """

    name: str
    run_dir: str
    status: str = "done"
    error: str | None = None
    iterations: int = 0
    attempts: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    mesh: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    host: str = ""
    reused: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SceneResult":
        return cls(**data)


def read_attempts(run_dir: Path) -> list[int]:
    """The starting iteration of every attempt logged in ``run_dir/attempts.jsonl``."""
    path = Path(run_dir) / ATTEMPTS
    if not path.is_file():
        return []
    return [json.loads(line)["from_iteration"] for line in path.read_text().splitlines() if line.strip()]


def _log_attempt(run_dir: Path, from_iteration: int) -> None:
    append_text(
        run_dir / ATTEMPTS,
        json.dumps(
            {
                "from_iteration": from_iteration,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "time": round(time.time(), 3),
            }
        )
        + "\n",
    )


def _content(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(path: Path | None, by_stat: bool = False) -> list | None:
    """(name, size, sha256 of the bytes) of ``path``, or of every file under it: what tells that an
    input changed (touching a photo does not). ``by_stat``: (name, size, mtime), the hash of
    SETTINGS_VERSION 2, kept to recognise the scenes a batch finished before."""
    if path is None:
        return None
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [(str(p), st.st_size, st.st_mtime_ns if by_stat else _content(p)) for p in files for st in (p.stat(),)]


def settings_hash(spec: SceneSpec, export: ExportOptions, version: int = SETTINGS_VERSION) -> str:
    """A hash of what a scene's result depends on: its resolved FitConfig, loading and export
    options, and its input files (names, sizes, contents; ``version`` 2: modification times)."""
    inputs = {
        key: _fingerprint(getattr(spec, key), by_stat=version < 3)
        for key in ("images", "cameras", "masks", "gt_mesh", "test_cameras")
    }
    document = {
        "config": spec.fit_config().flat(),
        "load": spec.load,
        "export": asdict(export),
        "inputs": inputs,
        "version": version,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def _stored_settings(run_dir: Path) -> str | None:
    try:
        return read_json(run_dir / SETTINGS).get("hash")
    except DvrError:
        return None


def _load(spec: SceneSpec, run_dir: Path, report: Report):
    """The scene as ``dvr fit`` would load it; photos without a camera file are calibrated first
    (by structure from motion, into run_dir/calibrated, reused when a retry finds it written)."""
    if spec.cameras is None:
        try:
            detect_format(spec.images)
        except DvrError:
            calibrated = run_dir / CALIBRATED
            if not (calibrated / "cams.json").is_file():
                from ..calib.pipeline import calibrate_photos

                report("calibrate", 0, 0)
                calibrate_photos(
                    spec.images,
                    calibrated,
                    masks=spec.masks,
                    downscale=spec.load.get("downscale", 1.0),
                    max_size=spec.load.get("max_size"),
                )
            return load_scene(calibrated)
    return load_scene(spec.images, cameras=spec.cameras, masks=spec.masks, **spec.load)


def _scores(evaluation: dict) -> dict[str, float]:
    means = (evaluation.get("images") or {}).get("mean") or {}
    geometry = evaluation.get("geometry") or {}
    scores = {k: means[k] for k in IMAGE_SCORES if k in means}
    scores.update({k: geometry[k] for k in GEOMETRY_SCORES if k in geometry})
    return scores


def process_scene(
    spec: SceneSpec, run_dir: str | Path, export: ExportOptions, report: Report | None = None, device: str | None = None
) -> SceneResult:
    """Calibrate (when the scene has no cameras), fit, export and evaluate ``spec`` into ``run_dir``.

    Resumes from the run folder's checkpoint when there is one; returns the stored result when
    ``batch_result.json`` says the scene is done. Evaluation runs when the scene holds views out
    (``holdout``) or names ``gt_mesh`` / ``test_cameras``. ``device`` overrides the config's.
    DvrError (bad input, a fit that finds no surface, ...) is returned as a failed result; the
    caller sees other exceptions (bugs) and worker deaths as such.
    """
    run_dir = Path(run_dir)
    report = report or (lambda stage, done, total: None)
    settings = settings_hash(spec, export)
    stored = _stored_settings(run_dir) if run_dir.exists() else None
    if stored == settings_hash(spec, export, version=2):
        write_json(run_dir / SETTINGS, {"hash": settings})  # unchanged, hashed the old way: kept
    elif run_dir.exists() and stored != settings:
        discard_folder(run_dir)  # fitted with other settings or inputs: start the scene over
    if (run_dir / RESULT).is_file():
        done = SceneResult.from_json(read_json(run_dir / RESULT))
        done.reused = True
        return done
    claim_folder(run_dir, "run")
    write_json(run_dir / SETTINGS, {"hash": settings})
    result = SceneResult(spec.name, str(run_dir), host=socket.gethostname())
    start = time.monotonic()
    stage_start = start

    def stage_done(name: str) -> None:
        nonlocal stage_start
        now = time.monotonic()
        result.seconds[name] = round(now - stage_start, 3)
        stage_start = now

    try:
        report("load", 0, 0)
        scene = _load(spec, run_dir, report)
        stage_done("load")
        cfg = spec.fit_config()
        if device is not None:
            cfg.device = device
        resuming = (run_dir / CHECKPOINT).is_file()
        _log_attempt(run_dir, int(load_checkpoint(run_dir / CHECKPOINT)["iteration"]) if resuming else 0)
        total = cfg.schedule.iters or 0  # a fit planned in minutes has no iteration count to reach
        report("fit", 0, total)
        last = {"t": 0.0}

        def hook(job) -> bool:
            if time.monotonic() - last["t"] >= 1.0:
                report("fit", job.iteration, total)
                last["t"] = time.monotonic()
            return False

        if resuming:  # the same settings (SETTINGS' hash): the run's saved config, on this device
            fitted = resume(run_dir, scene, hooks=[hook], device=device)
        else:
            fitted = fit(scene, cfg, run_dir, hooks=[hook])
        result.iterations = fitted.iterations
        if fitted.interrupted:
            raise DvrError(f"interrupted at iteration {fitted.iterations}: run the batch again to resume", run_dir)
        stage_done("fit")
        report("export", fitted.iterations, total)
        run = load_run(run_dir, device=cfg.device)
        result.mesh = str(export_mesh(run, fmt=export.fmt, resolution=export.resolution))
        stage_done("export")
        if cfg.holdout or spec.gt_mesh or spec.test_cameras:
            report("eval", fitted.iterations, total)
            result.scores = _scores(
                evaluate_run(run, gt_mesh=spec.gt_mesh, test_cameras=spec.test_cameras, resolution=export.resolution)
            )
            stage_done("eval")
    except DvrError as exc:
        result.status, result.error = "failed", str(exc)
    result.attempts = read_attempts(run_dir)
    result.seconds["total"] = round(time.monotonic() - start, 3)
    if result.status == "done":
        write_json(run_dir / RESULT, json_safe(result.to_json(), nan=None))
    return result
