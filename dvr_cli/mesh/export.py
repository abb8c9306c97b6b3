"""Fitted run -> coloured or textured mesh file in world units (what `dvr export` does)."""

from __future__ import annotations

import os
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import DvrError
from ..fields.base import tau_logit
from ..files import atomic_path
from ..ownership import check_file_target
from ..render.mesh import raycasting_scene, visible_from
from ..run import CHECKPOINT, EXPORT, Run
from ..scene.camera import Camera
from ..scene.types import View
from .bake import PhotoColoring, incident_faces, training_photos
from .clean import keep_large_components
from .clean import simplify as decimate
from .color import field_colors, field_device
from .hollows import fill_hollows
from .mise import extract_surface
from .separate import object_surface
from .texture import bake_texture, split_seams, uv_atlas
from .texture_fit import fit_mesh_colors
from .writers import FORMATS, ColoredMesh, mesh_files, write_mesh

TEXTURES = ("vertex", "atlas")
#: Where the colours come from: the training photos, blended and then fitted through the renderer
#: (the default); their blend alone; or the texture field. The field colours what no photo sees.
COLORS = ("photos", "blend", "field")
#: MISE starts from this grid (33^3 points evaluated everywhere).
MISE_START = 32
#: The default resolution (camera_resolution) stays within these cells per axis.
RESOLUTION_RANGE = (64, 1024)
#: The empty / full check evaluates the field on this grid (+1 points per side).
INSIDE_PROBE_RES = 32


def default_texture(fmt: str) -> str:
    """PLY has no standard texture: vertex colours; OBJ and GLB get an atlas."""
    return "vertex" if fmt == "ply" else "atlas"


def check_writable(out: Path) -> None:
    """Raise DvrError unless ``out`` can be written (parent folders are created)."""
    out = Path(out)
    if out.is_dir():
        raise DvrError("is a folder; give a file name", out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DvrError(f"cannot create the output folder ({exc.strerror or exc})", out.parent) from None
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise DvrError("output is not writable", out)


def surface_cache_path(run: Run, resolution: int) -> Path:
    """Where the cleaned unit-frame surface of ``run`` at ``resolution`` is cached."""
    return run.run_dir / EXPORT / f"surface-r{resolution}.npz"


def _cache_key(run: Run) -> np.ndarray:
    """What the cached surface depends on: the checkpoint file (mtime, size), iteration and tau."""
    checkpoint = run.run_dir / CHECKPOINT
    stat = checkpoint.stat() if checkpoint.is_file() else None
    return np.array(
        [
            stat.st_mtime_ns if stat else -1,
            stat.st_size if stat else -1,
            run.iteration,
            round(run.cfg.rendering.tau * 1e9),
        ],
        dtype=np.int64,
    )


def _inside_fraction(run: Run) -> float:
    """Share of a coarse grid over the cube that the (unmasked) field marks inside."""
    axis = torch.linspace(-1.0, 1.0, INSIDE_PROBE_RES + 1, device=field_device(run.field))
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    with torch.no_grad():
        return (run.field.occupancy_logits(grid) > tau_logit(run.cfg.rendering.tau)).float().mean().item()


def _no_surface_error(run: Run, inside: float) -> DvrError:
    """Say whether the field is empty or full and what to do."""
    state = "full" if inside > 0.5 else "empty"
    return DvrError(
        f"no surface: the occupancy field is {state} everywhere at tau={run.cfg.rendering.tau:g} "
        f"(iteration {run.iteration}); fit for more iterations",
        run.run_dir,
    )


def extract_run_surface(
    run: Run, resolution: int = 512, log: Callable[[str], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The run's surface in the unit frame, small floating pieces removed: (verts (V, 3), faces (F, 3)).

    Cached in RUN/export/ per resolution, valid while the checkpoint is unchanged (export and
    eval share it). DvrError when the field has no surface.
    """
    cache, key = surface_cache_path(run, resolution), _cache_key(run)
    cached = _read_cache(cache, key)
    if cached is not None:
        return cached
    inside = _inside_fraction(run)
    if inside == 1.0:  # masked by the occupancy grid, a full field would give the grid's boundary
        raise _no_surface_error(run, inside)
    # Extract what the renderer sees: the field inside the occupancy grid (no floaters beyond it).
    logit_fn = run.field.occupancy_logits
    if run.occ_grid is not None:
        logit_fn = run.occ_grid.masked(logit_fn, run.cfg.rendering.tau)
    logit_fn = fill_hollows(logit_fn, run.cfg.rendering.tau, device=field_device(run.field))
    verts, faces, n_eval = extract_surface(
        logit_fn, resolution=resolution, start=MISE_START, tau=run.cfg.rendering.tau, device=field_device(run.field)
    )
    if len(faces) == 0:
        raise _no_surface_error(run, inside)
    verts, faces = keep_large_components(verts, faces)
    if log:
        log(
            f"surface: {len(verts)} vertices, {len(faces)} faces at {resolution}^3 "
            f"({n_eval} points evaluated, {n_eval / (resolution + 1) ** 3:.1%} of the dense grid)"
        )
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp, open(tmp, "wb") as f:  # an interrupted export leaves no truncated cache
        np.savez(f, verts=verts, faces=faces, key=key)
    return verts, faces


def _read_cache(cache: Path, key: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached (verts, faces) when ``cache`` holds them for ``key``; None when it is absent, stale
    or unreadable (a cache is only ever a shortcut: it is then extracted again and replaced)."""
    if not cache.is_file():
        return None
    try:
        with np.load(cache) as data:
            if np.array_equal(data["key"], key):
                return data["verts"], data["faces"]
    except Exception:  # noqa: BLE001 - numpy / zipfile raise many types for a damaged file
        pass
    return None


def colored_mesh(
    field,
    verts: np.ndarray,
    faces: np.ndarray,
    texture: str,
    texture_size: int,
    photos: Sequence[View] | None = None,
    log: Callable[[str], None] | None = None,
    centers: np.ndarray | None = None,
    fit: bool = True,
) -> ColoredMesh:
    """Colour a unit-frame mesh per vertex, or as an atlas of ``texture_size``^2 texels: from
    ``photos`` (cameras in the unit frame), blended (dvr_cli.mesh.bake) and, with ``fit``, then
    fitted to them through the renderer (dvr_cli.mesh.texture_fit), with ``field`` where no photo
    sees the surface; from ``field`` alone when ``photos`` is None or empty. The field's colour is
    averaged over the views from ``centers`` (C, 3), unit frame, that see the point (see field_colors)."""
    scene = raycasting_scene(verts, faces)
    field_fn = lambda points: field_colors(field, points, centers, partial(visible_from, scene))  # noqa: E731
    color_fn = (lambda points, face: field_fn(points)) if not photos else PhotoColoring(verts, faces, photos, field_fn)
    start = time.perf_counter()
    if texture == "vertex":
        mesh = ColoredMesh(verts, faces, colors=color_fn(verts, incident_faces(faces, len(verts))))
    else:
        source, faces_uv, uv = split_seams(faces, uv_atlas(verts, faces, texture_size))
        if log:
            log(f"UV atlas: {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
        image = bake_texture(color_fn, verts[source], faces_uv, uv, texture_size)
        mesh = ColoredMesh(verts[source], faces_uv, uv=uv, texture=image)
    if log and photos:
        seen = color_fn.n_views > 0
        log(
            f"colours from {len(photos)} photos in {time.perf_counter() - start:.1f} s: {seen.mean():.1%} of the "
            f"surface seen, {np.mean(color_fn.n_views[seen]) if seen.any() else 0:.1f} photos blended on average, "
            "the rest from the texture field"
        )
    if photos and fit:
        start = time.perf_counter()
        mesh, result = fit_mesh_colors(mesh, photos)
        if log:
            log(
                f"colours fitted to the photos through the renderer in {time.perf_counter() - start:.1f} s: "
                f"{result.read.mean():.1%} of the {'texels' if texture == 'atlas' else 'vertices'} seen, "
                f"photo gains {result.gains.min():.2f}-{result.gains.max():.2f}"
            )
    return mesh


def camera_resolution(cameras: Sequence[Camera]) -> int:
    """Marching-cubes cells per axis of the unit cube such that one cell is about one pixel of
    ``cameras`` (unit frame) at the object: 2 f / d for the median over the cameras of the focal
    length f (pixels) over the distance d from the centre to the cube's centre, rounded up to a
    multiple of MISE_START and kept within RESOLUTION_RANGE. A finer mesh than the photos resolve
    adds faces and no detail; a coarser one blurs what the field and the photos show."""
    ratio = np.median([c.focal / max(float(np.linalg.norm(c.center)), 1e-6) for c in cameras])
    resolution = int(np.ceil(2.0 * ratio / MISE_START)) * MISE_START
    return int(np.clip(resolution, *RESOLUTION_RANGE))


def export_mesh(
    run: Run,
    fmt: str = "ply",
    resolution: int | None = None,
    out: str | Path | None = None,
    texture: str | None = None,
    simplify: int | None = None,
    texture_size: int = 2048,
    log: Callable[[str], None] | None = None,
    colors: str = "photos",
    keep_surroundings: bool = False,
) -> Path:
    """Extract, clean, colour and write the run's surface in world units.

    run: a loaded run (dvr_cli.run.load_run). Default ``out``: RUN/export/mesh.<fmt>.
    ``resolution``: marching-cubes cells per axis (default: :func:`camera_resolution` of the
    training cameras). ``texture``: 'vertex' or 'atlas' (default: vertex for PLY, atlas otherwise).
    ``simplify``: target face count (quadric decimation; none by default). ``colors``: 'photos'
    (the run's training photos blended onto the surface, then fitted through the renderer, see
    dvr_cli.mesh.texture_fit), 'blend' (the blend alone, dvr_cli.mesh.bake) or 'field'; photos
    that cannot be loaded any more fall back to the field with a one-line warning (``log``, else
    warnings.warn). A run fitted without masks is cut to its object (dvr_cli.mesh.separate) unless
    ``keep_surroundings``. Returns the mesh path.
    """
    if fmt not in FORMATS:
        raise DvrError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")
    texture = texture or default_texture(fmt)
    if texture not in TEXTURES:
        raise DvrError(f"unknown texture '{texture}' (choose from {', '.join(TEXTURES)})")
    if fmt == "ply" and texture == "atlas":
        raise DvrError("PLY keeps vertex colours only: use --texture vertex, or --format obj/glb for an atlas")
    if colors not in COLORS:
        raise DvrError(f"unknown colour source '{colors}' (choose from {', '.join(COLORS)})")
    if simplify is not None and simplify < 4:
        raise DvrError(f"--simplify {simplify}: need at least 4 faces")
    out = Path(out) if out is not None else run.run_dir / EXPORT / f"mesh.{fmt}"
    for path in mesh_files(out, fmt, texture == "atlas"):  # never over a file dvr did not write
        check_file_target(path)
    check_writable(out)

    train_cameras = [run.normalization.camera_to_unit(run.cameras[i]) for i in run.train]
    if resolution is None:
        resolution = camera_resolution(train_cameras)
    verts, faces = extract_run_surface(run, resolution, log)
    if not keep_surroundings:
        verts, faces = object_surface(run, verts, faces, log)
    if simplify is not None:
        verts, faces = decimate(verts, faces, simplify)
    photos = training_photos(run, log or warnings.warn) if colors != "field" else None
    centers = np.array([c.center for c in train_cameras])
    mesh = colored_mesh(run.field, verts, faces, texture, texture_size, photos, log, centers, fit=colors == "photos")
    mesh.verts = run.normalization.to_world(mesh.verts)
    written = write_mesh(mesh, out, fmt)
    if log:
        log(f"wrote {', '.join(str(p) for p in written)} ({len(mesh.verts)} vertices, {len(mesh.faces)} faces)")
    return out
