"""Evaluate a fitted run: geometry against a GT mesh, renders against held-out photos.

Writes RUN/eval.json (or the given file) and, per evaluated view (first few), a PNG
GT | prediction | error map in RUN/eval/.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import DvrError
from ..files import write_json
from ..image_files import write_rgb
from ..mesh.export import check_writable, extract_run_surface
from ..mesh.separate import cut_render, object_region
from ..mesh.writers import ColoredMesh
from ..ownership import check_file_target
from ..run import EVAL, Run
from ..scene import load_scene
from ..scene.types import View
from .geometry import load_mesh, mesh_distances
from .image_metrics import error_map, masked_psnr, psnr, silhouette_iou, ssim
from .mesh_render import MESH_SUPERSAMPLE, MeshRenderer, load_colored_mesh

FIGURES_DIR = "eval"
IMAGE_METRICS = ("psnr", "ssim", "masked_psnr", "iou")


def comparison_views(run: Run, test_cameras: str | Path | None) -> tuple[list[View], str]:
    """The views to compare renders with, and where they come from.

    ``test_cameras``: a camera file (any format) whose images are loaded with it, shrunk like
    the run's inputs (its downscale / max size); None: the run's held-out views (none when the
    run held none out).
    """
    if test_cameras is not None:
        inputs = run.record.inputs or {}
        scene = load_scene(test_cameras, downscale=inputs.get("downscale") or 1.0, max_size=inputs.get("max_size"))
        return scene.views, str(test_cameras)
    if not run.holdout:
        return [], "none"
    return run.scene().subset(run.holdout).views, "held-out views of the run"


def background_of(view: View) -> np.ndarray:
    """(3,) the photo's background colour: median outside the mask (white without a mask)."""
    if view.mask is None or view.mask.all():
        return np.ones(3, dtype=np.float32)
    return np.median(view.image[~view.mask], axis=0).astype(np.float32)


def check_view_size(view: View) -> None:
    """DvrError naming the view unless its photo has the size its camera renders at."""
    h, w = view.image.shape[:2]
    if (w, h) != (view.camera.width, view.camera.height):
        raise DvrError(
            f"view '{view.name}': image is {w}x{h} but the render is {view.camera.width}x{view.camera.height}",
            view.image_path,
        )


def view_metrics(pred: dict, view: View) -> dict[str, float]:
    """PSNR, SSIM, masked PSNR and silhouette IoU of one render (render_image's dict) against ``view``."""
    out = {"psnr": psnr(pred["rgb"], view.image), "ssim": ssim(pred["rgb"], view.image)}
    if view.mask is not None:
        out["masked_psnr"] = masked_psnr(pred["rgb"], view.image, view.mask)
        out["iou"] = silhouette_iou(pred["mask"], view.mask)
    return out


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def evaluate_images(
    run: Run,
    views: list[View],
    figures_dir: Path | None = None,
    n_figures: int = 3,
    n_samples: int | None = None,
    on_view: Callable[[int, int], None] | None = None,
    keep_surroundings: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Render every view's camera and compare; the first ``n_figures`` get a comparison PNG. The
    silhouette of a run fitted without masks is its object's (dvr_cli.mesh.separate) unless
    ``keep_surroundings``.

    Returns {"views": [{name, psnr, ssim, masked_psnr?, iou?}], "mean": {metric: mean}}.
    """
    scored = not keep_surroundings and any(view.mask is not None for view in views)  # IoU needs the views' masks
    region = object_region(run, log) if scored else None

    def render(view: View) -> dict:  # a fit without masks shows its own background model
        out = run.render(view.camera, n_samples, background=None if run.background is not None else background_of(view))
        return cut_render(run, region, out, view.camera)

    return score_renders(render, views, figures_dir, n_figures, on_view=on_view)


def score_mesh(
    mesh: ColoredMesh,
    views: list[View],
    figures_dir: Path | None = None,
    n_figures: int = 3,
    on_view: Callable[[int, int], None] | None = None,
) -> dict:
    """Score a coloured mesh (world units, e.g. ``load_colored_mesh`` of an exported file) as the
    field's renders are scored: ray cast from each view's camera, MESH_SUPERSAMPLE^2 rays per
    pixel, texture looked up bilinearly, no shading (dvr_cli.evaluate.mesh_render).

    Returns {"views": [...], "mean": {...}} as :func:`evaluate_images`; figures ``mesh_<view>.png``.
    """
    renderer = MeshRenderer(mesh)
    return score_renders(
        lambda view: renderer.render(view.camera, background_of(view), MESH_SUPERSAMPLE),
        views,
        figures_dir,
        n_figures,
        "mesh_",
        on_view,
    )


def score_renders(
    render: Callable[[View], dict],
    views: list[View],
    figures_dir: Path | None = None,
    n_figures: int = 3,
    figure_prefix: str = "",
    on_view: Callable[[int, int], None] | None = None,
) -> dict:
    """Compare ``render(view)`` (a dict with ``rgb`` (H, W, 3) and ``mask`` (H, W)) with each view."""
    for view in views:
        check_view_size(view)
    per_view = []
    for i, view in enumerate(views):
        pred = render(view)
        per_view.append({"name": view.name, **view_metrics(pred, view)})
        if figures_dir is not None and i < n_figures:
            figures_dir.mkdir(parents=True, exist_ok=True)
            panel = np.concatenate([view.image, pred["rgb"], error_map(pred["rgb"], view.image)], axis=1)
            write_rgb(figures_dir / f"{figure_prefix}{Path(view.name).stem or i}.png", panel)
        if on_view is not None:
            on_view(i + 1, len(views))
    means = {k: _mean([v[k] for v in per_view if k in v]) for k in IMAGE_METRICS if any(k in v for v in per_view)}
    return {"views": per_view, "mean": means}


def evaluate_geometry(
    run: Run,
    gt_mesh: str | Path,
    resolution: int = 256,
    n_points: int = 100_000,
    threshold: float | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Chamfer / F-score of the run's surface (export's pipeline, cached) against ``gt_mesh``."""
    gt = load_mesh(gt_mesh)
    verts, faces = extract_run_surface(run, resolution, log)
    result = mesh_distances((run.normalization.to_world(verts), faces), gt, n_points, threshold)
    return {"gt_mesh": str(gt_mesh), "resolution": resolution, **result}


def json_safe(value, nan: str | None = "nan"):
    """``value`` with every non-finite float replaced, in nested dicts / lists / tuples: inf ->
    "inf" / "-inf", nan -> ``nan`` ("nan", or None for JSON null); strict JSON readers reject the
    bare tokens json.dumps writes for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return nan if math.isnan(value) else str(value)
    if isinstance(value, dict):
        return {k: json_safe(v, nan) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, nan) for v in value]
    return value


def evaluate_run(
    run: Run,
    gt_mesh: str | Path | None = None,
    test_cameras: str | Path | None = None,
    json_path: str | Path | None = None,
    resolution: int = 256,
    n_points: int = 100_000,
    n_samples: int | None = None,
    log: Callable[[str], None] | None = None,
    on_view: Callable[[int, int], None] | None = None,
    mesh: str | Path | None = None,
    keep_surroundings: bool = False,
) -> dict:
    """Geometry (with ``gt_mesh``) and image metrics (test cameras or held-out views) of ``run``,
    and of the exported ``mesh`` file (as the user takes it home) from the same views. A run
    fitted without masks is scored on its object's silhouette unless ``keep_surroundings``.

    Writes the result as JSON to ``json_path`` (default RUN/eval.json) and returns it.
    """
    json_path = Path(json_path) if json_path is not None else run.run_dir / EVAL
    check_file_target(json_path)  # never over a file dvr did not write
    check_writable(json_path)
    if gt_mesh is not None:
        load_mesh(gt_mesh)  # fail on a bad file before any rendering
    colored = load_colored_mesh(mesh) if mesh is not None else None
    views, source = comparison_views(run, test_cameras)
    if gt_mesh is None and not views:
        raise DvrError(
            "nothing to evaluate: the run has no held-out views; give --gt-mesh and/or --test-cameras", run.run_dir
        )
    result: dict = {"run": str(run.run_dir), "iteration": run.iteration}
    if gt_mesh is not None:
        result["geometry"] = evaluate_geometry(run, gt_mesh, resolution, n_points, log=log)
    if views:
        result["images"] = {
            "source": source,
            **evaluate_images(
                run,
                views,
                run.run_dir / FIGURES_DIR,
                n_samples=n_samples,
                on_view=on_view,
                keep_surroundings=keep_surroundings,
                log=log,
            ),
        }
    if views and colored is not None:
        result["mesh"] = {
            "file": str(mesh),
            "supersample": MESH_SUPERSAMPLE,
            **score_mesh(colored, views, run.run_dir / FIGURES_DIR, on_view=on_view),
        }
    write_json(json_path, json_safe(result))
    result["json"] = str(json_path)
    return result
