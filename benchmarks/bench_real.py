"""Real captures end to end: DTU scans 24, 65, 69, 106 and NeRF-synthetic lego, photos -> textured mesh.

For each real scene found in ../shared/data: fit the default preset planned over a wall-clock
budget (what `dvr fit IMAGES --minutes M --holdout K` does) with every K-th view held out
(``--no-masks``: fitted from the photos alone, the masks only score), render the held-out views
and score them (masked PSNR, SSIM, silhouette IoU), then (unless --field-only) export the meshes
exactly as the default `dvr export` writes them (OBJ: texture fitted on the training photos; PLY:
vertex colours fitted on them), with the plain blend of the photos (``--colors blend``) and the
field's colours (``--colors field``), and score them the same way, beside the *oracle*: the fitted
mesh's geometry textured from the held-out photos themselves, the ceiling of any
one-colour-per-point texture on that mesh (how much of the mesh's gap is colour, how much is light
that moves with the camera); ``--geometry-gap`` adds the oracle at twice the mesh resolution (how
much is geometry). ``--meshes-only`` adds the mesh columns to a finished ``--field-only`` result.
For each scene small figures go into docs/: a held-out strip
(photo | render | error), the same for the photo-textured mesh, and the field-coloured mesh
seen from that camera (ray cast, Lambertian shading of its vertex colours).

Each scene writes OUT/<scene>[-nomask]/result.json as it finishes and a later call skips the
scenes that have one (``make bench-real`` runs one process per scene, so an interrupted run
resumes where it stopped); every call gathers all the results under OUT into a table, its JSON
and, with ``--results-md``, the block between this benchmark's markers in docs/results.md.

    .venv/bin/python benchmarks/bench_real.py                          # 10 min per scene
    .venv/bin/python benchmarks/bench_real.py --scenes dtu65 --no-masks
    .venv/bin/python benchmarks/bench_real.py --budget-min 3 --field-only \
        --out benchmarks/out/real3 --docs benchmarks/out/real3
    .venv/bin/python benchmarks/bench_real.py --budget-min 0.5 --dtu-downscale 8 --lego-size 100   # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import machine, machine_title, write_json

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
#: The table-in-the-mesh figure of a fit without masks: marching-cubes resolution, mask dilation (pixels).
HULL_RES, HULL_DILATE_PX = 256, 5
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
    "lego": RealScene(
        "nerf_synthetic_lego", "transforms_train.json", 8, "NeRF-synthetic lego (Mildenhall et al. 2020)"
    ),
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
    """Write ``rgb`` (H, W, 3) in [0, 1] as PNG, shrunk to at most FIGURE_WIDTH across. The
    benchmark's own figure: a rerun replaces it (the docs/ figures are in the repository, not
    written by a dvr command, so not through dvr's writer, which keeps files it did not write)."""
    import cv2

    h, w = rgb.shape[:2]
    if w > FIGURE_WIDTH:
        rgb = cv2.resize(rgb, (FIGURE_WIDTH, round(h * FIGURE_WIDTH / w)), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return path


def copy_figure(panel: Path, path: Path) -> Path:
    """The evaluation's PNG ``panel`` (photo | render | error) written as a docs figure at ``path``."""
    from dvr_cli.scene.images import read_image

    return write_figure(path, read_image(panel)[0])


# ------------------------------------------------------------------------------ one scene
def tag_of(name: str, args) -> str:
    """The scene's folder name under OUT: ``dtu65`` or ``dtu65-nomask``."""
    return f"{name}-nomask" if args.no_masks else name


def bench_scene(name: str, scene, args) -> dict:
    """Fit (or, with --reuse, take a finished fit), evaluate the field, draw its held-out strip and
    (unless --field-only) export and score the meshes; returns the scene's row. With
    ``--no-masks`` the fit never sees the masks; the held-out views keep them to be scored."""
    from rich.console import Console

    from dvr_cli.commands.fit_progress import FitProgress
    from dvr_cli.config import FitConfig
    from dvr_cli.evaluate.report import evaluate_images
    from dvr_cli.fit import fit
    from dvr_cli.run import CHECKPOINT, load_run
    from dvr_cli.run.folder import read_metrics

    spec = SCENES[name]
    tag = tag_of(name, args)
    run_dir = args.out / tag / "run"
    cfg = FitConfig.from_preset(
        "fast",
        iters=args.iters,
        minutes=args.budget_min,
        holdout=spec.holdout,
        device=args.device,
        background=args.background,
    )  # without --iters: over the budget
    camera = scene.views[0].camera
    print(
        f"{tag}: {len(scene)} views at {camera.width}x{camera.height}, holdout every {spec.holdout}, "
        f"{args.budget_min:g} min"
    )
    load_before = os.getloadavg()[0]
    if not (args.reuse and (run_dir / CHECKPOINT).is_file()):
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a benchmark run starts from scratch
        progress = FitProgress(Console())
        with progress.bar:
            fit(scene.without_masks() if args.no_masks else scene, cfg, run_dir, hooks=[progress])
    load_after = os.getloadavg()[0]
    last = read_metrics(run_dir)[-1]
    run = load_run(run_dir, device=args.device)
    held = run.holdout

    t0 = time.monotonic()
    views = scene.subset(held).views
    images = evaluate_images(run, views, args.out / tag / "eval", n_figures=1)
    eval_s = time.monotonic() - t0
    row = {
        "scene": name,
        "masks": not args.no_masks,
        "data": spec.folder,
        "credit": spec.credit,
        "views_train": len(run.train),
        "views_heldout": len(held),
        "resolution": [camera.width, camera.height],
        "budget_min": args.budget_min,
        "fit_s": round(last["time"], 1),
        "load_average": [round(load_before, 2), round(load_after, 2)],  # 1-minute, before and after the fit
        "iterations": last["iter"],
        "iterations_planned": cfg.schedule.iters,
        "eval_s": round(eval_s, 1),
        "heldout": images["mean"],
        "heldout_views": images["views"],
        "figures": [
            str(
                copy_figure(
                    args.out / tag / "eval" / f"{Path(views[0].name).stem}.png", args.docs / f"results_{tag}_strip.png"
                )
            )
        ],
    }
    if args.no_masks:
        row["outside_hull_pct"] = round(100 * outside_hull(run, scene), 2)
    if not args.field_only:
        meshes = score_meshes(run, views, tag, args)
        row |= meshes | {"figures": row["figures"] + meshes["figures"]}
    return row


def outside_hull(run, scene) -> float:
    """The share of the area of the surface `dvr export` keeps (cut to the object, at HULL_RES)
    outside the visual hull of every view's object mask dilated by HULL_DILATE_PX: the table or
    wall a fit without masks hands over."""
    from dvr_cli.evaluate.geometry import outside_hull_share
    from dvr_cli.mesh.export import extract_run_surface
    from dvr_cli.mesh.separate import object_surface

    verts, faces = object_surface(run, *extract_run_surface(run, HULL_RES), print)
    cameras, masks = zip(*[(v.camera, v.mask) for v in scene.views])
    return outside_hull_share(run.normalization.to_world(verts), faces, list(cameras), list(masks), HULL_DILATE_PX)


def oracle_mesh(mesh, views):
    """``mesh`` (a ColoredMesh with uv and texture, world units) re-textured from ``views``
    themselves (the held-out photos): the texture that minimises the squared error of the pixels
    the masked PSNR scores, rendered as the scorer renders them (dvr_cli.mesh.texture_fit's
    operator, the one `dvr export` fits the training photos through), plain least squares (no
    per-photo gains, no robust weights) from the mesh's own texture. The ceiling of any
    one-colour-per-point texture on this geometry: what it still misses is geometry, and light
    that differs between the held-out views at one surface point."""
    from dvr_cli.mesh.texture_fit import fit_mesh_colors

    return fit_mesh_colors(mesh, views, gains=False, robust=False)[0]


def colored_meshes(run, texture: str, resolution: int, args) -> dict:
    """The meshes `dvr export` makes of ``run`` with ``--texture TEXTURE`` at ``resolution``
    (``--simplify`` if given), world units: 'blend' (``--colors blend``), 'photos' (the default:
    the blend fitted through the renderer, as export_mesh does it), 'field' for vertex colours
    (``--colors field``); 'seconds': what the default's colouring took."""
    from dvr_cli.mesh.bake import training_photos
    from dvr_cli.mesh.clean import simplify
    from dvr_cli.mesh.export import colored_mesh, extract_run_surface
    from dvr_cli.mesh.texture_fit import fit_mesh_colors

    verts, faces = extract_run_surface(run, resolution, print)
    if args.simplify is not None:
        verts, faces = simplify(verts, faces, args.simplify)
    photos = training_photos(run, print)
    centers = np.array([run.normalization.camera_to_unit(run.cameras[i]).center for i in run.train])
    t0 = time.monotonic()
    out = {
        "blend": colored_mesh(run.field, verts, faces, texture, args.texture_size, photos, print, centers, fit=False)
    }
    out["photos"] = fit_mesh_colors(out["blend"], photos)[0]
    out["seconds"] = time.monotonic() - t0
    if texture == "vertex":
        out["field"] = colored_mesh(run.field, verts, faces, texture, args.texture_size, None, print, centers)
    for key in ("blend", "photos", "field"):
        if key in out:
            out[key].verts = run.normalization.to_world(out[key].verts)
    return out


def score_meshes(run, views, name: str, args) -> dict:
    """The meshes the default `dvr export` writes (``--resolution`` / ``--simplify`` only when
    given): the OBJ with the texture fitted on the training photos, the PLY with vertex colours
    fitted on them, each beside the plain blend of the photos it starts from (``--colors blend``)
    and the PLY with the field's colours; score each, and the oracle (:func:`oracle_mesh`), on the
    held-out ``views`` (the default meshes as written to RUN/export, 8-bit colours), with
    ``--geometry-gap`` also the oracle at twice the resolution; draw the fitted mesh's strip and a
    snapshot of the field-coloured one; the row's mesh columns."""
    from dvr_cli.evaluate.mesh_render import load_colored_mesh
    from dvr_cli.evaluate.report import score_mesh
    from dvr_cli.mesh.export import camera_resolution
    from dvr_cli.mesh.writers import write_mesh
    from dvr_cli.run import EXPORT

    resolution = args.resolution or camera_resolution(
        [run.normalization.camera_to_unit(run.cameras[i]) for i in run.train]
    )
    atlas, vertex = colored_meshes(run, "atlas", resolution, args), colored_meshes(run, "vertex", resolution, args)
    files = {
        "photo_mesh": (atlas["photos"], "mesh.obj"),
        "blend_mesh": (atlas["blend"], "mesh_blend.obj"),
        "vertex_mesh": (vertex["photos"], "mesh.ply"),
        "vertex_blend_mesh": (vertex["blend"], "mesh_blend.ply"),
        "field_mesh": (vertex["field"], "mesh_field.ply"),
    }
    for mesh, file in files.values():  # all written first: a failure while scoring loses no colouring
        write_mesh(mesh, run.run_dir / EXPORT / file, Path(file).suffix[1:])
    photo_path, mesh_path = run.run_dir / EXPORT / "mesh.obj", run.run_dir / EXPORT / "mesh_field.ply"
    photo = load_colored_mesh(photo_path)
    row = {
        "photo_color_s": round(atlas["seconds"], 1),
        "vertex_color_s": round(vertex["seconds"], 1),
        "mesh_resolution": resolution,
        "mesh_faces": len(photo.faces),
        "mesh": str(mesh_path),
        "photo_mesh_path": str(photo_path),
    }
    for key, (_, file) in files.items():
        figures = args.out / name / "eval" if key == "photo_mesh" else None
        row[key] = score_mesh(load_colored_mesh(run.run_dir / EXPORT / file), views, figures, n_figures=1)["mean"]
        print(f"{name}: {key} {row[key]['masked_psnr']:.2f} dB", flush=True)
    row["oracle_mesh"] = score_mesh(oracle_mesh(photo, views), views)["mean"]
    print(" ".join([f"{name}:", *(f"{k} {row[k]['masked_psnr']:.2f} dB" for k in MESH_KEYS if k in row)]))
    if args.geometry_gap:
        fine = colored_meshes(run, "atlas", 2 * resolution, args)["blend"]
        row["oracle_mesh_fine"] = score_mesh(oracle_mesh(fine, views), views)["mean"]

    first = views[0]
    photo_png = copy_figure(
        args.out / name / "eval" / f"mesh_{Path(first.name).stem}.png", args.docs / f"results_{name}_photo_strip.png"
    )
    snapshot = render_mesh(mesh_path, first.camera.resized(2 * first.camera.width, 2 * first.camera.height))
    mesh_png = write_figure(args.docs / f"results_{name}_mesh.png", snapshot)
    return row | {"figures": [str(photo_png), str(mesh_png)]}


def score_finished(result: Path, scene, args) -> None:
    """Score the mesh columns of a finished scene whose ``result`` (result.json, e.g. written with
    ``--field-only``) sits beside its run folder, and write them into it."""
    from dvr_cli.run import load_run

    row = json.loads(result.read_text())
    run = load_run(result.parent / "run", device=args.device)
    meshes = score_meshes(run, scene.subset(run.holdout).views, tag_of(row["scene"], args), args)
    row |= meshes | {"figures": row["figures"][:1] + meshes["figures"]}
    write_json(result, row)
    print(" ".join([f"{result.parent.name}:", *(f"{k} {row[k]['masked_psnr']:.2f} dB" for k in MESH_KEYS if k in row)]))


def report(rows: list[dict], info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"bench_real: {machine_title(info)}",
        caption="mPSNR (dB, inside the masks), SSIM, silhouette IoU, plain PSNR (dB, the whole photo, "
        "fits without masks), the share of the kept mesh's area outside the dilated masks' visual hull: means over "
        "the held-out views",
    )
    for col in COLUMNS:
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(*cells(r))
    Console().print(table)


#: The mesh columns: result key -> column title (held-out masked PSNR of each exported mesh).
MESH_COLUMNS = {
    "photo_mesh": "fitted texture mPSNR",
    "blend_mesh": "blend mPSNR",
    "vertex_mesh": "fitted vertex mPSNR",
    "vertex_blend_mesh": "vertex blend mPSNR",
    "field_mesh": "field-colour mPSNR",
    "oracle_mesh": "oracle mPSNR",
    "oracle_mesh_fine": "oracle 2x res mPSNR",
}
MESH_KEYS = tuple(MESH_COLUMNS)
COLUMNS = (
    "scene",
    "masks",
    "views fit/held",
    "image",
    "fit s",
    "iters",
    "load",
    "mPSNR",
    "SSIM",
    "IoU",
    "plain PSNR",
    "outside hull %",
    *MESH_COLUMNS.values(),
    "mesh IoU",
    "faces",
    "atlas colour s",
)


def cells(r: dict) -> list[str]:
    """One table row of the result ``r`` (the mesh columns '-' for a --field-only result)."""
    m = r["heldout"]
    out = [
        r["scene"],
        "yes" if r.get("masks", True) else "no",
        f"{r['views_train']}/{r['views_heldout']}",
        "x".join(map(str, r["resolution"])),
        f"{r['fit_s']:.0f}",
        str(r["iterations"]),
        "{:.1f}/{:.1f}".format(*r["load_average"]) if "load_average" in r else "-",
        f"{m['masked_psnr']:.2f}",
        f"{m['ssim']:.3f}",
        f"{m['iou']:.3f}",
        "-" if r.get("masks", True) else f"{m['psnr']:.2f}",
        f"{r['outside_hull_pct']:.2f}" if "outside_hull_pct" in r else "-",
    ]  # a fit without masks renders the whole photo
    if "photo_mesh" not in r:
        return out + ["-"] * (len(MESH_COLUMNS) + 3)
    scores = [f"{r[k]['masked_psnr']:.2f}" if k in r else "-" for k in MESH_KEYS]
    return (
        out
        + scores
        + [
            f"{r['photo_mesh']['iou']:.3f}",
            f"{r['mesh_faces']:,}",
            f"{r['photo_color_s']:.0f}" if "photo_color_s" in r else "-",
        ]
    )


def markdown(rows: list[dict], info: dict, budget_min: float) -> str:
    """The results as a markdown table, with the machine and the budget above it."""
    lines = [
        f"{budget_min:g}-minute default fits (`fast` preset), {machine_title(info)}; "
        "load = 1-minute load average before/after the fit (2.0 = this benchmark alone on 2 cores).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + " --- |" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_block(path: Path, key: str, text: str) -> None:
    """Replace the block between ``<!-- KEY:begin -->`` and ``<!-- KEY:end -->`` in ``path`` by
    ``text`` (appended, with its markers, when the file has no such block)."""
    begin, end = f"<!-- {key}:begin -->", f"<!-- {key}:end -->"
    doc = path.read_text() if path.is_file() else ""
    block = f"{begin}\n{text}{end}"
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip("\n") + f"\n\n{block}\n"
    path.write_text(doc)


def gathered(out: Path) -> list[dict]:
    """Every scene's result under ``out``, in SCENES order, masked before unmasked."""
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]
    order = list(SCENES)
    return sorted(
        rows, key=lambda r: (order.index(r["scene"]) if r["scene"] in order else len(order), not r.get("masks", True))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", default=",".join(SCENES), help=f"comma-separated, from {', '.join(SCENES)}")
    parser.add_argument("--budget-min", type=float, default=10.0, help="minutes of fitting per scene")
    parser.add_argument(
        "--iters",
        type=int,
        default=None,
        help="plan over this many iterations instead (the fit also stops at the budget)",
    )
    parser.add_argument("--no-masks", action="store_true", help="fit from the photos alone (the masks only score)")
    parser.add_argument(
        "--background",
        default=None,
        help="the background model of fits without masks: field, envmap or colour (default: the fast preset's)",
    )
    parser.add_argument("--dtu-downscale", type=float, default=4.0, help="DTU images are 1600x1200 / this")
    parser.add_argument("--lego-size", type=int, default=200, help="lego images are shrunk to this many pixels")
    parser.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="mesh extraction resolution (default: `dvr export`'s, from the cameras)",
    )
    parser.add_argument(
        "--simplify",
        type=int,
        default=None,
        help="decimate the meshes to this many faces (default: none, as `dvr export`)",
    )
    parser.add_argument("--texture-size", type=int, default=2048, help="atlas side (`dvr export`'s default)")
    parser.add_argument(
        "--geometry-gap",
        action="store_true",
        help="also score the oracle on a mesh extracted at "
        "twice the resolution (how much of the meshes' gap is geometry)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="evaluate a scene's finished fit again instead of fitting it anew (its run folder holds a checkpoint)",
    )
    parser.add_argument("--again", action="store_true", help="bench a scene even when OUT holds its result")
    parser.add_argument(
        "--meshes-only",
        action="store_true",
        help="only export and score the meshes of the scenes "
        "whose result OUT holds (a --field-only result: its run folder beside it), into that result",
    )
    parser.add_argument(
        "--field-only",
        action="store_true",
        help="score the field's renders only (no mesh export), as the budget comparison needs",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder holding the real data sets")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "real")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the figures for docs/results.md go")
    parser.add_argument(
        "--results-md",
        type=Path,
        default=None,
        help="write the gathered table into this markdown file (e.g. docs/results.md)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.scenes.split(",")) - set(SCENES))
    if unknown:
        parser.error(f"unknown scene(s) {unknown}; choose from {', '.join(SCENES)}")

    from dvr_cli.runtime import setup_process

    setup_process(args.threads)
    info = machine()
    for name in args.scenes.split(","):
        result = args.out / tag_of(name, args) / "result.json"
        if args.meshes_only:
            if result.is_file():
                score_finished(result, load(name, args), args)
            continue
        if result.is_file() and not args.again:
            print(f"{tag_of(name, args)}: {result} exists, skipped (--again benches it anew)")
            continue
        scene = load(name, args)
        if scene is not None:
            write_json(result, bench_scene(name, scene, args) | {"machine": info})
    rows = gathered(args.out)
    if not rows:
        print("no real data found: nothing to benchmark")
        return
    report(rows, info)
    path = write_json(args.out / "bench_real.json", {"machine": info, "budget_min": args.budget_min, "scenes": rows})
    print(f"wrote {path}")
    if args.results_md is not None:
        write_block(args.results_md, f"bench_real {args.budget_min:g} min", markdown(rows, info, args.budget_min))
        print(f"wrote the table into {args.results_md}")


if __name__ == "__main__":
    main()
