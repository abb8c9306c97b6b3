"""`dvr calibrate`: photos (+ a camera file, or cameras estimated from the photos alone) -> a
calibrated scene folder; or checkerboard photos -> intrinsics.json."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import DvrError
from .console import warner

#: Progress bars of the photos-only path, in the order they run.
STAGES = {
    "features": "features",
    "matching": "matching",
    "mapping": "mapping (images registered)",
    "refining": "bundle adjustment",
    "masks": "automatic masks",
    "scene": "undistorting + writing",
}


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        images: Optional[Path] = typer.Argument(
            None,
            metavar="IMAGES",
            help="Folder of photos (or a dataset folder holding images/ or image/, or the camera file's folder).",
        ),
        out: Path = typer.Option(
            ...,
            "--out",
            "-o",
            help="Scene folder to write (images/, masks/, cams.json): a new or empty folder, or a scene dvr wrote "
            "(replaced once the new one is complete); never the photos' folder. With --checkerboard: the "
            "intrinsics.json to write.",
        ),
        cameras: Optional[Path] = typer.Option(
            None,
            "--cameras",
            "-c",
            help="Camera file: dvr cams.json, nerfstudio/NeRF transforms.json, DTU/IDR cameras.npz, "
            "or a COLMAP sparse model folder. Without it the cameras are estimated from the photos (SfM).",
        ),
        masks: Optional[str] = typer.Option(
            None,
            "--masks",
            "-m",
            help="Folder of object masks (white = object), named like the photos or in the same order; "
            "'auto': masks from the sparse points (SfM's, or triangulated with the given --cameras held fixed), "
            "the table or wall plane and GrabCut at the working size, written to OUT/masks, with each mask's "
            "confidence in OUT/masks.json and a contact sheet OUT/masks.png; when most masks are distrusted "
            "the scene is written without masks.",
        ),
        downscale: float = typer.Option(1.0, "--downscale", "-d", help="Divide the image size by this factor (>= 1)."),
        max_size: Optional[int] = typer.Option(
            None, "--max-size", help="Also shrink images so their longer side is at most this many pixels."
        ),
        matcher: str = typer.Option(
            "auto",
            "--matcher",
            help="Photos only: auto (exhaustive up to 30 photos, retrieval up to 100, "
            "else sequential), exhaustive, retrieval (each photo with its 12 most similar ones, in any "
            "order), or sequential (ordered video frames).",
        ),
        per_image_intrinsics: bool = typer.Option(
            False,
            "--per-image-intrinsics",
            help="Photos only: one focal length / distortion per photo "
            "(zoom changed, or several cameras) instead of one shared camera.",
        ),
        intrinsics: Optional[Path] = typer.Option(
            None, "--intrinsics", help="Photos only: intrinsics.json (from --checkerboard) held fixed during SfM."
        ),
        checkerboard: Optional[Path] = typer.Option(
            None, "--checkerboard", help="Folder of checkerboard photos: calibrate K and distortion, write --out."
        ),
        pattern: str = typer.Option("9x6", "--pattern", help="With --checkerboard: inner corners COLSxROWS."),
        square: float = typer.Option(0.025, "--square", help="With --checkerboard: square side (world units)."),
    ) -> None:
        """Turn a capture into dvr's calibrated scene folder, or calibrate a lens from a checkerboard.

        With --cameras: reads the cameras (any supported format). Without: estimates them from the
        photos by structure from motion (the scene then gets an object-centred, z-up frame with the
        object's radius 1; photos that do not register are left out). Either way the photos and
        masks are undistorted and resized, the normalisation is found, and OUT/images, OUT/masks
        and OUT/cams.json are written (photos only: also OUT/sparse.ply and OUT/sfm/).
        """
        console = Console(soft_wrap=True)  # paths stay on one line, whatever the terminal width
        if checkerboard is not None:
            if images is not None or cameras is not None:
                raise DvrError("--checkerboard calibrates a lens on its own: give no IMAGES or --cameras with it")
            _checkerboard(console, checkerboard, pattern, square, out)
        elif images is None:
            raise DvrError("give IMAGES (a folder of photos), or --checkerboard DIR")
        elif cameras is not None:
            photos_only = {
                "--matcher": matcher != "auto",
                "--per-image-intrinsics": per_image_intrinsics,
                "--intrinsics": intrinsics is not None,
            }
            used = [name for name, given in photos_only.items() if given]
            if used:
                raise DvrError(f"{', '.join(used)} only apply when the cameras are estimated (leave out --cameras)")
            if masks == "auto":
                _posed_auto_masks(console, images, cameras, downscale, max_size, out)
            else:
                _with_cameras(console, images, cameras, masks, downscale, max_size, out)
        else:
            _photos_only(
                console, images, out, masks, not per_image_intrinsics, intrinsics, matcher, downscale, max_size
            )


def _with_cameras(console: Console, images, cameras, masks, downscale, max_size, out: Path) -> None:
    from ..ownership import check_replaceable
    from ..scene import load_scene, write_scene

    check_replaceable(out, "scene", [images, cameras, masks])  # before the photos are read
    with console.status("loading cameras, photos and masks"):
        scene = load_scene(images, cameras, masks, downscale, max_size, warn=warner(console))
    with console.status(f"writing {escape(str(out))}"):
        write_scene(scene, out)
    _summary(console, scene, out)


def _progress_bars(console: Console) -> tuple[Progress, Callable[[str, int, int], None]]:
    """Rich bars, one per stage (STAGES), and the callable(stage, done, total) that drives them."""
    bars = Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    tasks, totals = {}, {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            for name, task in tasks.items():  # a stage is over when the next begins (mapping may skip a count)
                bars.update(task, completed=totals[name])
            tasks[stage] = bars.add_task(STAGES[stage], total=total)
        totals[stage] = total
        bars.update(tasks[stage], completed=done, total=total)

    return bars, report


def _posed_auto_masks(console: Console, images, cameras, downscale, max_size, out: Path) -> None:
    from ..calib.pipeline import calibrate_posed

    bars, report = _progress_bars(console)
    with bars:
        result = calibrate_posed(
            images, cameras, out, downscale, max_size, report, warn=warner(console), fallback=_quick_fit(console)
        )
    _summary(console, result.scene, out)
    _mask_summary(console, result, out)


def _quick_fit(console: Console):
    """The fallback of distrusted automatic masks: a quick fit's object (one line when it gives none)."""
    from ..fit.quick_masks import quick_fit_masks

    return lambda scene: quick_fit_masks(scene, log=warner(console))


def _mask_summary(console: Console, result, out: Path) -> None:
    """Which automatic masks are distrusted, and whether the scene keeps them."""
    colour = "green" if result.used and not result.distrusted else "yellow"
    console.print(
        f"  [{colour}]{result.reason}[/]; confidence per photo in {escape(str(out / 'masks.json'))}, "
        f"contact sheet {escape(str(out / 'masks.png'))}"
    )
    if result.distrusted:
        console.print(f"  [yellow]distrusted masks:[/] {escape(', '.join(result.distrusted))}")


def _photos_only(console: Console, images, out, masks, shared, intrinsics, matcher, downscale, max_size) -> None:
    from ..calib.checkerboard import load_intrinsics
    from ..calib.pipeline import calibrate_photos

    known = None if intrinsics is None else load_intrinsics(intrinsics)
    bars, report = _progress_bars(console)
    with bars:
        result = calibrate_photos(
            images, out, masks, shared, known, matcher, downscale, max_size, report, _quick_fit(console)
        )
    sfm = result.sfm
    if sfm.unregistered:
        console.print(
            f"[yellow]warning:[/] {len(sfm.unregistered)} photo(s) did not register and are left out: "
            f"{escape(', '.join(sfm.unregistered))}"
        )
    _summary(console, result.scene, out)
    console.print(
        f"  SfM       {len(sfm.registered)} of {len(sfm.registered) + len(sfm.unregistered)} photos "
        f"registered, {len(sfm.points)} sparse points, reprojection error {sfm.reprojection_error:.2f} px"
    )
    K = sfm.cameras[0].K
    console.print(
        f"  camera    fx {K[0, 0]:.1f}, fy {K[1, 1]:.1f}, cx {K[0, 2]:.1f}, cy {K[1, 2]:.1f} "
        f"(at {sfm.cameras[0].width}x{sfm.cameras[0].height} px)"
    )
    console.print(
        f"  points    {escape(str(out / 'sparse.ply'))} (world frame); COLMAP model in {escape(str(out / 'sfm'))}"
    )
    console.print("  time      " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    if result.masks is not None:
        _mask_summary(console, result.masks, out)


def _checkerboard(console: Console, folder: Path, pattern: str, square: float, out: Path) -> None:
    from ..calib.pipeline import checkerboard_intrinsics

    with Progress(
        TextColumn("finding corners"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as bars:
        task = bars.add_task("corners", total=None)
        result = checkerboard_intrinsics(
            folder, pattern, square, out, lambda done, total: bars.update(task, completed=done, total=total)
        )
    console.print(
        f"[bold green]wrote[/] {escape(str(out))}: {result.width}x{result.height} px, "
        f"board found in {len(result.per_image)} photos"
    )
    for label, row in zip(("K", "", ""), result.K):
        console.print(f"  {label:<4}" + " ".join(f"{v:10.3f}" for v in row), highlight=False)
    console.print("  dist" + " ".join(f"{v:10.5f}" for v in result.dist) + "  (k1, k2, p1, p2, k3)", highlight=False)
    worst = max(result.per_image, key=result.per_image.get)
    console.print(
        f"  reprojection error: rms {result.rms:.3f} px, worst {escape(worst)} {result.per_image[worst]:.3f} px"
    )


def _summary(console: Console, scene, out: Path) -> None:
    """What was written, in a few lines."""
    first = scene.views[0].camera
    norm = scene.normalization
    masks = sum(v.mask is not None for v in scene.views)
    console.print(
        f"[bold green]wrote[/] {escape(str(out))}: {len(scene)} views, {first.width}x{first.height} px, {masks} masks"
    )
    console.print(f"  cameras   {scene.meta['format']} from {escape(str(scene.meta['cameras_file']))}")
    console.print(f"  masks     {escape(str(scene.meta['masks']))}")
    if scene.meta.get("undistorted"):
        console.print("  undistorted with the cameras' lens distortion")
    center = ", ".join(f"{c:.4g}" for c in norm.center)
    console.print(f"  normalisation from {norm.source}: centre ({center}), scale {norm.scale:.4g}")
