"""Many scenes on Ray: one task per scene, a live view of where each is, batch.json + batch.csv.

Ray schedules; dvr only declares what a scene needs (``cpus_per_scene``, ``gpus_per_scene``)
and how often a scene whose worker died is tried again (``max_retries``; the retry resumes
from the scene's checkpoint, see scene.py). Without an address Ray starts embedded on this
machine; ``address`` ('auto', 'HOST:6379' or 'ray://HOST:10001') joins an existing cluster,
whose workers need dvr installed and --out on a file system they share with this machine.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from ..errors import DvrError
from ..evaluate.report import json_safe
from ..extras import require
from ..files import write_json, write_text_atomic
from ..ownership import claim_folder
from ..runtime import setup_process
from .manifest import BATCH_CSV, BATCH_JSON, SceneSpec
from .scene import GEOMETRY_SCORES, IMAGE_SCORES, ExportOptions, SceneResult, process_scene, read_attempts

#: Seconds to wait for a cluster's port to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 3.0


@dataclass
class Cluster:
    """Where and with what each scene runs.

    Attributes:
        address: None (start Ray on this machine), 'auto' (the cluster `ray start` runs here), or a
            cluster's 'HOST:PORT' / 'ray://HOST:PORT' (Ray client).
        num_cpus: cores an embedded Ray may use (None: all).
        cpus_per_scene, gpus_per_scene: resources of one scene's task (torch gets that many threads;
            with 0 GPUs the scene fits on the CPU).
        max_retries: times a scene is started again after its worker died.
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_scene: float = 1.0
    gpus_per_scene: float = 0.0
    max_retries: int = 2


@dataclass
class SceneRow:
    """One line of the live table: state 'queued', 'running' (with stage / iteration / total), 'done'
    or 'failed' (with the result)."""

    name: str
    state: str = "queued"
    stage: str = ""
    iteration: int = 0
    total: int = 0
    result: SceneResult | None = None


@dataclass
class BatchReport:
    """A finished batch: every scene's result in manifest order, wall-clock seconds, resources."""

    results: list[SceneResult]
    seconds: float
    cluster: Cluster
    files: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[SceneResult]:
        return [r for r in self.results if r.status != "done"]

    def scenes_per_hour(self) -> float:
        """Scenes finished by this run (not reused from an earlier one) per hour of wall clock."""
        fitted = sum(r.status == "done" and not r.reused for r in self.results)
        return fitted * 3600.0 / self.seconds if self.seconds > 0 else math.nan


# ------------------------------------------------------------------------- connecting
def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """DvrError unless something listens at ``address``'s host:port (Ray would wait much longer)."""
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise DvrError(f"--address {address}: expected 'auto', HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or type(exc).__name__)
        raise DvrError(
            f"--address {address}: cannot reach a Ray cluster there ({reason} after at most "
            f"{timeout:g} s); start one with `ray start --head`, or leave --address out to run "
            "here"
        ) from None


def connect(cluster: Cluster) -> bool:
    """Start or join Ray as ``cluster`` says; True when this call started it (the caller shuts it
    down). A Ray already initialised in this process (a notebook, a test session) is used as is."""
    ray = require("ray")

    if cluster.address not in (None, "auto"):
        check_reachable(cluster.address)
    if ray.is_initialized():
        return False
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    if cluster.address is None:
        ray.init(num_cpus=cluster.num_cpus, include_dashboard=False, **quiet)
        return True
    try:
        ray.init(address=cluster.address, **quiet)
    except ConnectionError as exc:
        raise DvrError(f"--address {cluster.address}: {str(exc).splitlines()[0]}") from None
    except ImportError as exc:  # ray:// needs the client extras
        raise DvrError(
            f"--address {cluster.address}: the Ray client is not installed ({exc}); pip install 'ray[client]'"
        ) from None
    return True


# ---------------------------------------------------------------------------- tasks
class _Board:
    """A Ray actor where running scenes post their stage and iteration, and the driver reads them."""

    def __init__(self):
        self.states: dict[str, tuple[str, int, int]] = {}

    def update(self, name: str, stage: str, done: int, total: int) -> None:
        self.states[name] = (stage, done, total)

    def snapshot(self) -> dict[str, tuple[str, int, int]]:
        return dict(self.states)


def _scene_task(
    spec: SceneSpec, run_dir: str, export: ExportOptions, board, threads: int, device: str | None
) -> SceneResult:
    """The body of a scene's Ray task, in a worker process."""
    setup_process(threads)
    return process_scene(
        spec, run_dir, export, lambda stage, done, total: board.update.remote(spec.name, stage, done, total), device
    )


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message``."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _failure(spec: SceneSpec, run_dir: Path, exc: Exception, retries: int) -> SceneResult:
    """A failed result from what ray.get raised: the task's own exception, or a worker that died."""
    ray = require("ray")

    if isinstance(exc, ray.exceptions.RayTaskError):
        reason = _one_line(exc.cause if exc.cause is not None else exc)
    elif isinstance(exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):
        reason = f"its worker died {retries + 1} time(s) ({type(exc).__name__}); run the batch again to resume"
    else:
        reason = _one_line(exc)
    return SceneResult(spec.name, str(run_dir), status="failed", error=reason, attempts=read_attempts(run_dir))


def run_batch(
    specs: list[SceneSpec],
    out: str | Path,
    cluster: Cluster | None = None,
    export: ExportOptions | None = None,
    on_update: Callable[[list[SceneRow]], None] | None = None,
    poll_s: float = 0.5,
) -> BatchReport:
    """Run every scene as one Ray task (calibrate -> fit -> export -> eval into OUT/<name>/) and
    write OUT/batch.json and OUT/batch.csv.

    ``on_update(rows)`` is called about every ``poll_s`` seconds and at the end with one
    :class:`SceneRow` per scene. A scene that fails does not stop the others. Raises DvrError
    when Ray cannot be started or reached.
    """
    ray = require("ray")

    cluster, export = cluster or Cluster(), export or ExportOptions()
    out = Path(out).resolve()
    claim_folder(out, "batch", [p for s in specs for p in (s.images, s.cameras, s.masks)])
    start = time.monotonic()
    started = connect(cluster)
    try:
        board = ray.remote(num_cpus=0)(_Board).remote()
        task = ray.remote(_scene_task).options(
            num_cpus=cluster.cpus_per_scene,
            num_gpus=cluster.gpus_per_scene,
            max_retries=cluster.max_retries,
            retry_exceptions=False,
        )
        threads, device = max(1, int(cluster.cpus_per_scene)), ("cpu" if cluster.gpus_per_scene == 0 else None)
        pending = {task.remote(spec, str(out / spec.name), export, board, threads, device): spec for spec in specs}
        results: dict[str, SceneResult] = {}
        while True:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=poll_s) if pending else ([], [])
            for ref in ready:
                spec = pending.pop(ref)
                try:
                    results[spec.name] = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - every failure of one scene is that scene's row
                    results[spec.name] = _failure(spec, out / spec.name, exc, cluster.max_retries)
            if on_update is not None:
                on_update(_rows(specs, results, ray.get(board.snapshot.remote())))
            if not pending:
                break
    finally:
        if started:
            ray.shutdown()
    report = BatchReport([results[s.name] for s in specs], time.monotonic() - start, cluster)
    report.files = write_summary(report, out)
    return report


def _rows(specs: list[SceneSpec], results: dict[str, SceneResult], board: dict) -> list[SceneRow]:
    rows = []
    for spec in specs:
        row = SceneRow(spec.name)
        if spec.name in results:
            row.result = results[spec.name]
            row.state = "done" if row.result.status == "done" else "failed"
            row.iteration = row.result.iterations
        elif spec.name in board:
            row.state = "running"
            row.stage, row.iteration, row.total = board[spec.name]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- summary
CSV_COLUMNS = (
    "name",
    "status",
    "iterations",
    "attempts",
    "fit_s",
    "total_s",
    *IMAGE_SCORES,
    *GEOMETRY_SCORES,
    "mesh",
    "host",
    "reused",
    "error",
)


def csv_row(result: SceneResult) -> dict:
    """One batch.csv line of ``result`` (missing scores empty)."""
    return {
        "name": result.name,
        "status": result.status,
        "iterations": result.iterations,
        "attempts": " ".join(map(str, result.attempts)),
        "fit_s": result.seconds.get("fit", ""),
        "total_s": result.seconds.get("total", ""),
        **{k: result.scores.get(k, "") for k in IMAGE_SCORES + GEOMETRY_SCORES},
        "mesh": result.mesh or "",
        "host": result.host,
        "reused": result.reused,
        "error": result.error or "",
    }


def write_summary(report: BatchReport, out: Path) -> dict[str, str]:
    """OUT/batch.json (every result, times, resources) and OUT/batch.csv (one line per scene)."""
    out = Path(out)
    summary = {
        "seconds": round(report.seconds, 3),
        "scenes": len(report.results),
        "done": sum(r.status == "done" for r in report.results),
        "failed": len(report.failed),
        "scenes_per_hour": report.scenes_per_hour(),
        "cluster": vars(report.cluster),
        "results": [r.to_json() for r in report.results],
    }
    write_json(out / BATCH_JSON, json_safe(summary, nan=None))
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(csv_row(r) for r in report.results)
    write_text_atomic(out / BATCH_CSV, table.getvalue())
    return {"json": str(out / BATCH_JSON), "csv": str(out / BATCH_CSV)}
