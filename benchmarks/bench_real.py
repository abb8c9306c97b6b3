"""Real captures end to end: DTU scans 24, 65, 69, 106 and NeRF-synthetic lego, photos -> textured mesh.

For each real scene found in ../shared/data: fit the default preset planned over a wall-clock
budget (what `dvr fit IMAGES --minutes M --holdout K` does) with every K-th view held out,
render the held-out views and score them (masked PSNR, SSIM, silhouette IoU), then (unless
--field-only) export the field-coloured PLY and the photo-textured OBJ and score them the same
way. Prints a table, writes JSON, and for each scene small figures into docs/: a held-out strip
(photo | render | error), the same for the photo-textured mesh, and the field-coloured mesh
seen from that camera (ray cast, Lambertian shading of its vertex colours).

    .venv/bin/python benchmarks/bench_real.py                          # 10 min per scene
    .venv/bin/python benchmarks/bench_real.py --budget-min 3 --field-only --out benchmarks/out/real3 --docs benchmarks/out/real3
    .venv/bin/python benchmarks/bench_real.py --budget-min 0.5 --dtu-downscale 8 --lego-size 100   # smoke
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import machine, machine_title, write_json

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIGURE_WIDTH = 720  # docs figures are shrunk to at most this many pixels across (PNG < 300 KB)


@dataclass
class RealScene:
    """A real data set in shared/data and how the benchmark loads it."""

    folder: str
    cameras: str | None  # camera file inside the folder; None: the loader finds it
    holdout: int  # every K-th view is held out
    credit: str


DTU_CREDIT = "(Jensen et al. 2014), IDR / NeuS masks and cameras"
SCENES = {
    "dtu24": RealScene("dtu_scan24_400", "cameras_sphere.npz", 7, f"DTU MVS scan 24 {DTU_CREDIT}"),
    "dtu65": RealScene("dtu_scan65", None, 7, f"DTU MVS scan 65 {DTU_CREDIT}"),
    "dtu69": RealScene("dtu_scan69_400", "cameras_sphere.npz", 7, f"DTU MVS scan 69 {DTU_CREDIT}"),
    "dtu106": RealScene("dtu_scan106_400", "cameras_sphere.npz", 7, f"DTU MVS scan 106 {DTU_CREDIT}"),
    "lego": RealScene("nerf_synthetic_lego", "transforms_train.json", 8, "NeRF-synthetic lego (Mildenhall et al. 2020)"),
}


def load(name: str, args):
    """The scene ``name`` at the benchmark's size, or None (with a message) when its data is absent."""
    from dvr_cli.scene import load_scene

    spec = SCENES[name]
    folder = args.data / spec.folder
    if not folder.is_dir():
        print(f"skipping {name}: {folder} is absent (real data lives beside the checkout in shared/data)")
        return None
    cameras = folder / spec.cameras if spec.cameras else None
    if name == "dtu65":  # the only scan shared at 1600x1200
        return load_scene(folder, cameras, downscale=args.dtu_downscale)
    if name.startswith("dtu"):  # shared at 400x300: the cameras file is already adjusted
        return load_scene(folder / "image", cameras, masks=folder / "mask")
    return load_scene(folder, cameras, max_size=args.lego_size)


# ------------------------------------------------------------------------------ figures
def render_mesh(mesh_path: Path, camera, background=(1.0, 1.0, 1.0)) -> np.ndarray:
    """(H, W, 3) image of a vertex-coloured mesh (world units) from a world ``camera``.

    Ray cast with open3d; colour = barycentric vertex colour * (0.25 + 0.75 |n . d|): a
    Lambertian head-light, so the shading shows the geometry the colours sit on.
    """
    from dvr_cli.render.rays import camera_rays
    from dvr_cli.runtime import open3d

    o3d = open3d()
    mesh = o3d.io.read_triangle_mesh(str(mesh_path))
    verts = np.asarray(mesh.vertices, dtype=np.float32)
    faces = np.asarray(mesh.triangles, dtype=np.uint32)
    colors = np.asarray(mesh.vertex_colors, dtype=np.float32) if mesh.has_vertex_colors() else np.full_like(verts, 0.7)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(verts), o3d.core.Tensor(faces))
    origins, dirs = camera_rays(camera)
    rays = np.concatenate([origins.numpy(), dirs.numpy()], axis=1).astype(np.float32)
    hits = scene.cast_rays(o3d.core.Tensor(rays))
    hit = np.isfinite(hits["t_hit"].numpy())
    tri = hits["primitive_ids"].numpy()[hit].astype(np.int64)
    uv = hits["primitive_uvs"].numpy()[hit]
    bary = np.stack([1.0 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)
    albedo = np.einsum("nk,nkc->nc", bary, colors[faces[tri]])
    lambert = np.abs(np.sum(hits["primitive_normals"].numpy()[hit] * rays[hit, 3:], axis=1))
    image = np.tile(np.asarray(background, dtype=np.float32), (camera.height * camera.width, 1))
    image[hit] = albedo * (0.25 + 0.75 * lambert[:, None])
    return image.reshape(camera.height, camera.width, 3)


def write_figure(path: Path, rgb: np.ndarray) -> Path:
    """Write ``rgb`` (H, W, 3) in [0, 1] as PNG, shrunk to at most FIGURE_WIDTH across."""
    import cv2

    from dvr_cli.render.views import write_rgb

    h, w = rgb.shape[:2]
    if w > FIGURE_WIDTH:
        rgb = cv2.resize(rgb, (FIGURE_WIDTH, round(h * FIGURE_WIDTH / w)), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_rgb(path, np.clip(rgb, 0.0, 1.0))
    return path


def copy_figure(panel: Path, path: Path) -> Path:
    """The evaluation's PNG ``panel`` (photo | render | error) written as a docs figure at ``path``."""
    from dvr_cli.scene.images import read_image

    return write_figure(path, read_image(panel)[0])


# ------------------------------------------------------------------------------ one scene
def bench_scene(name: str, scene, args) -> dict:
    """Fit (or, with --reuse, take a finished fit), evaluate the field, draw its held-out strip and
    (unless --field-only) export and score the meshes; returns the scene's row."""
    from dvr_cli.config import FitConfig
    from dvr_cli.evaluate.report import evaluate_images
    from dvr_cli.fit import fit
    from dvr_cli.run import CHECKPOINT, load_run
    from dvr_cli.run.folder import read_metrics

    spec = SCENES[name]
    run_dir = args.out / name / "run"
    cfg = FitConfig.from_preset("fast", iters=args.iters, minutes=args.budget_min, holdout=spec.holdout,
                                 device=args.device)  # without --iters: planned over the budget
    camera = scene.views[0].camera
    print(f"{name}: {len(scene)} views at {camera.width}x{camera.height}, holdout every {spec.holdout}, "
          f"{args.budget_min:g} min")
    if not (args.reuse and (run_dir / CHECKPOINT).is_file()):
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a benchmark run starts from scratch
        fit(scene, cfg, run_dir, progress=True)
    last = read_metrics(run_dir)[-1]
    run = load_run(run_dir, device=args.device)
    held = run.holdout

    t0 = time.monotonic()
    views = scene.subset(held).views
    images = evaluate_images(run, views, args.out / name / "eval", n_figures=1)
    eval_s = time.monotonic() - t0
    row = {
        "scene": name,
        "data": spec.folder,
        "credit": spec.credit,
        "views_train": len(run.train),
        "views_heldout": len(held),
        "resolution": [camera.width, camera.height],
        "budget_min": args.budget_min,
        "fit_s": round(last["time"], 1),
        "iterations": last["iter"],
        "iterations_planned": cfg.iters,
        "eval_s": round(eval_s, 1),
        "heldout": images["mean"],
        "heldout_views": images["views"],
        "figures": [str(copy_figure(args.out / name / "eval" / f"{Path(views[0].name).stem}.png",
                                    args.docs / f"results_{name}_strip.png"))],
    }
    if not args.field_only:
        meshes = score_meshes(run, views, name, args)
        row |= meshes | {"figures": row["figures"] + meshes["figures"]}
    return row


def score_meshes(run, views, name: str, args) -> dict:
    """Export the field-coloured PLY and the photo-textured OBJ of ``run``, score both on the
    held-out ``views`` and draw the photo-mesh strip and a mesh snapshot; the row's mesh columns."""
    from dvr_cli.evaluate.mesh_render import load_colored_mesh
    from dvr_cli.evaluate.report import score_mesh
    from dvr_cli.mesh.export import export_mesh, extract_run_surface

    t0 = time.monotonic()
    mesh_path = export_mesh(run, "ply", resolution=args.resolution, log=print, colors="field")
    export_s = time.monotonic() - t0
    faces = len(extract_run_surface(run, args.resolution)[1])  # the cached surface export just made
    t0 = time.monotonic()
    photo_path = export_mesh(run, "obj", resolution=args.resolution, simplify=args.simplify, log=print,
                             colors="photos")
    photo_export_s = time.monotonic() - t0
    field_mesh = score_mesh(load_colored_mesh(mesh_path), views)
    photo_mesh = score_mesh(load_colored_mesh(photo_path), views, args.out / name / "eval", n_figures=1)

    first = views[0]
    photo_png = copy_figure(args.out / name / "eval" / f"mesh_{Path(first.name).stem}.png",
                            args.docs / f"results_{name}_photo_strip.png")
    snapshot = render_mesh(mesh_path, first.camera.resized(2 * first.camera.width, 2 * first.camera.height))
    mesh_png = write_figure(args.docs / f"results_{name}_mesh.png", snapshot)
    return {
        "export_s": round(export_s, 1),
        "photo_export_s": round(photo_export_s, 1),
        "mesh_resolution": args.resolution,
        "mesh_faces": faces,
        "field_mesh": field_mesh["mean"],
        "photo_mesh": photo_mesh["mean"],
        "mesh": str(mesh_path),
        "photo_mesh_path": str(photo_path),
        "figures": [str(photo_png), str(mesh_png)],
    }


def report(rows: list[dict], info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"bench_real: {machine_title(info)}",
                  caption="mPSNR (dB, inside the masks), SSIM, silhouette IoU: means over the held-out views")
    meshes = all("photo_mesh" in r for r in rows)
    for col in ("scene", "views fit/held", "image", "fit s", "iters", "mPSNR", "SSIM", "IoU") + (
            ("field-mesh mPSNR", "photo-mesh mPSNR", "photo-mesh IoU", "faces") if meshes else ()):
        table.add_column(col, justify="right")
    for r in rows:
        m = r["heldout"]
        cells = [r["scene"], f"{r['views_train']}/{r['views_heldout']}", "x".join(map(str, r["resolution"])),
                 f"{r['fit_s']:.0f}", str(r["iterations"]), f"{m['masked_psnr']:.2f}", f"{m['ssim']:.3f}",
                 f"{m['iou']:.3f}"]
        if meshes:
            fm, pm = r["field_mesh"], r["photo_mesh"]
            cells += [f"{fm['masked_psnr']:.2f}", f"{pm['masked_psnr']:.2f}", f"{pm['iou']:.3f}",
                      f"{r['mesh_faces']:,}"]
        table.add_row(*cells)
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", default=",".join(SCENES), help=f"comma-separated, from {', '.join(SCENES)}")
    parser.add_argument("--budget-min", type=float, default=10.0, help="minutes of fitting per scene")
    parser.add_argument("--iters", type=int, default=None,
                        help="plan over this many iterations instead (the fit also stops at the budget)")
    parser.add_argument("--dtu-downscale", type=float, default=4.0, help="DTU images are 1600x1200 / this")
    parser.add_argument("--lego-size", type=int, default=200, help="lego images are shrunk to this many pixels")
    parser.add_argument("--resolution", type=int, default=256, help="mesh extraction resolution")
    parser.add_argument("--simplify", type=int, default=100_000, help="faces of the photo-textured OBJ")
    parser.add_argument("--reuse", action="store_true", help="evaluate a scene's finished fit again instead of "
                        "fitting it anew (its run folder holds a checkpoint)")
    parser.add_argument("--field-only", action="store_true", help="score the field's renders only (no mesh "
                        "export), as the budget comparison needs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding the real data sets")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "real")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the figures for docs/results.md go")
    args = parser.parse_args()
    unknown = sorted(set(args.scenes.split(",")) - set(SCENES))
    if unknown:
        parser.error(f"unknown scene(s) {unknown}; choose from {', '.join(SCENES)}")

    from dvr_cli.runtime import setup_process

    setup_process(args.threads)
    rows, info = [], machine()
    for name in args.scenes.split(","):
        scene = load(name, args)
        if scene is not None:
            rows.append(bench_scene(name, scene, args))
            path = write_json(args.out / "bench_real.json", {"machine": info, "budget_min": args.budget_min,
                                                             "scenes": rows})  # after every scene
    if not rows:
        print("no real data found: nothing to benchmark")
        return
    report(rows, info)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
