"""Fitted run -> coloured or textured mesh file in world units (what `dvr export` does)."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import DvrError
from ..fields.base import tau_logit
from ..files import atomic_path
from ..ownership import check_file_target
from ..run import CHECKPOINT, EXPORT, Run
from ..scene.types import View
from .bake import PhotoColoring, incident_faces, training_photos
from .clean import keep_large_components, simplify as decimate
from .color import field_colors, field_device
from .hollows import fill_hollows
from .mise import extract_surface
from .texture import bake_texture, split_seams, uv_atlas
from .writers import FORMATS, ColoredMesh, mesh_files, write_mesh

TEXTURES = ("vertex", "atlas")
#: Where the colours come from: the training photos (the texture field where none sees a point), or the field.
COLORS = ("photos", "field")
#: MISE starts from this grid (33^3 points evaluated everywhere).
MISE_START = 32
#: The empty / full check evaluates the field on this grid (+1 points per side).
INSIDE_PROBE_RES = 32


def default_texture(fmt: str) -> str:
    """PLY has no standard texture: vertex colours; OBJ and GLB get an atlas."""
    return "vertex" if fmt == "ply" else "atlas"


def default_colors(texture: str) -> str:
    """An atlas is baked from the photos (as sharp as they are); vertex colours, one sample per
    vertex, come from the smoother field."""
    return "field" if texture == "vertex" else "photos"


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
    return np.array([stat.st_mtime_ns if stat else -1, stat.st_size if stat else -1, run.iteration,
                     round(run.cfg.rendering.tau * 1e9)], dtype=np.int64)


def _inside_fraction(run: Run) -> float:
    """Share of a coarse grid over the cube that the (unmasked) field marks inside."""
    axis = torch.linspace(-1.0, 1.0, INSIDE_PROBE_RES + 1, device=field_device(run.field))
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    with torch.no_grad():
        return (run.field.occupancy_logits(grid) > tau_logit(run.cfg.rendering.tau)).float().mean().item()


def _no_surface_error(run: Run, inside: float) -> DvrError:
    """Say whether the field is empty or full and what to do."""
    state = "full" if inside > 0.5 else "empty"
    return DvrError(f"no surface: the occupancy field is {state} everywhere at tau={run.cfg.rendering.tau:g} "
                    f"(iteration {run.iteration}); fit for more iterations", run.run_dir)


def extract_run_surface(run: Run, resolution: int = 512, log: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
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
    verts, faces, n_eval = extract_surface(logit_fn, resolution=resolution, start=MISE_START, tau=run.cfg.rendering.tau,
                                           device=field_device(run.field))
    if len(faces) == 0:
        raise _no_surface_error(run, inside)
    verts, faces = keep_large_components(verts, faces)
    if log:
        log(f"surface: {len(verts)} vertices, {len(faces)} faces at {resolution}^3 "
            f"({n_eval} points evaluated, {n_eval / (resolution + 1) ** 3:.1%} of the dense grid)")
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


def colored_mesh(field, verts: np.ndarray, faces: np.ndarray, texture: str, texture_size: int,
                 photos: Sequence[View] | None = None, log: Callable[[str], None] | None = None,
                 centers: np.ndarray | None = None) -> ColoredMesh:
    """Colour a unit-frame mesh per vertex, or as an atlas baked at ``texture_size``^2: from
    ``photos`` (cameras in the unit frame; dvr_cli.mesh.bake) with ``field`` where no photo
    sees the surface, or from ``field`` alone when ``photos`` is None or empty; the field's
    colour is averaged over the views from ``centers`` (C, 3), unit frame (see field_colors)."""
    field_fn = lambda points: field_colors(field, points, centers)  # noqa: E731
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
        log(f"colours from {len(photos)} photos in {time.perf_counter() - start:.1f} s: {seen.mean():.1%} of the "
            f"surface seen, {np.mean(color_fn.n_views[seen]) if seen.any() else 0:.1f} photos blended on average, "
            "the rest from the texture field")
    return mesh


def export_mesh(run: Run, fmt: str = "ply", resolution: int = 512, out: str | Path | None = None,
                texture: str | None = None, simplify: int | None = None, texture_size: int = 2048,
                log: Callable[[str], None] | None = None, colors: str | None = None) -> Path:
    """Extract, clean, colour and write the run's surface in world units.

    run: a loaded run (dvr_cli.run.load_run). Default ``out``: RUN/export/mesh.<fmt>. ``texture``: 'vertex' or 'atlas' (default: vertex for PLY, atlas
    otherwise). ``simplify``: target face count (quadric decimation). ``colors``: 'photos' (the
    run's training photos projected onto the surface, see dvr_cli.mesh.bake) or 'field' (default:
    photos for an atlas, field for vertex colours); photos that cannot be loaded any more fall
    back to the field with a one-line warning (``log``, else warnings.warn). Returns the mesh path.
    """
    if fmt not in FORMATS:
        raise DvrError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})")
    texture = texture or default_texture(fmt)
    if texture not in TEXTURES:
        raise DvrError(f"unknown texture '{texture}' (choose from {', '.join(TEXTURES)})")
    if fmt == "ply" and texture == "atlas":
        raise DvrError("PLY keeps vertex colours only: use --texture vertex, or --format obj/glb for an atlas")
    colors = colors or default_colors(texture)
    if colors not in COLORS:
        raise DvrError(f"unknown colour source '{colors}' (choose from {', '.join(COLORS)})")
    if simplify is not None and simplify < 4:
        raise DvrError(f"--simplify {simplify}: need at least 4 faces")
    out = Path(out) if out is not None else run.run_dir / EXPORT / f"mesh.{fmt}"
    for path in mesh_files(out, fmt, texture == "atlas"):  # never over a file dvr did not write
        check_file_target(path)
    check_writable(out)

    verts, faces = extract_run_surface(run, resolution, log)
    if simplify is not None:
        verts, faces = decimate(verts, faces, simplify)
    photos = training_photos(run, log or warnings.warn) if colors == "photos" else None
    centers = np.array([run.normalization.camera_to_unit(run.cameras[i]).center for i in run.train])
    mesh = colored_mesh(run.field, verts, faces, texture, texture_size, photos, log, centers)
    mesh.verts = run.normalization.to_world(mesh.verts)
    written = write_mesh(mesh, out, fmt)
    if log:
        log(f"wrote {', '.join(str(p) for p in written)} ({len(mesh.verts)} vertices, {len(mesh.faces)} faces)")
    return out
