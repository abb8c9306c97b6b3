"""`dvr fit`: photos + cameras (+ masks) -> a run folder holding the fitted fields."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..config import DEFAULT_MINUTES, MAX_CHECKPOINT_INTERVAL_S, FitConfig
from ..errors import DvrError
from ..extras import require
from .console import warner
from .fit_progress import FitProgress
from .view import HOST_HELP, print_address

#: With --masks auto: the scene folder with the automatic masks, inside the run folder.
AUTO_SCENE = "scene"


def _summary(console: Console, result, resumed: bool) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("run folder", escape(str(result.run_dir)))
    table.add_row("iterations", f"{result.iterations}" + (" (interrupted)" if result.interrupted else ""))
    table.add_row(
        "time",
        f"{result.seconds:.1f} s"
        + (" (this session)" if resumed else "")
        + (", field compiled (warm-up included)" if result.compiled else ""),
    )
    if result.last is not None:
        for name, value in result.last.terms.items():
            table.add_row(f"loss {name}", f"{value:.4f}")
        table.add_row("rays hitting", f"{result.last.hit_rate:.4f}")
    console.print(table)
    if result.interrupted:
        console.print(f"continue with: [bold]dvr fit --resume --out {escape(str(result.run_dir))}[/]")
    console.print(f"next: [bold]dvr export {escape(str(result.run_dir))}[/]")


def _evaluate_holdout(console: Console, run_dir: Path, device: str) -> None:
    """Render the held-out views and print masked PSNR / SSIM / IoU (what `dvr eval RUN` does)."""
    from ..evaluate.report import evaluate_run
    from ..run import load_run
    from .evaluate import result_tables

    with console.status("evaluating the held-out views ...") as status:
        result = evaluate_run(
            load_run(run_dir, device=device),
            on_view=lambda done, total: status.update(f"rendering held-out view {done}/{total} ..."),
        )
    for table in result_tables(result):
        console.print(table)
    console.print(f"metrics: [bold]{escape(result['json'])}[/]")


def _scene_with_auto_masks(console: Console, images: Path, cameras: Path | None, cfg: FitConfig, run_dir: Path, warn):
    """--masks auto: the scene at the working size with automatic masks, written as the scene
    folder RUN/scene (the run reloads its views from there); says whether the masks are used."""
    from ..calib.pipeline import auto_masked_scene
    from ..fit.quick_masks import quick_fit_masks
    from ..fit.trainer import claim_run_folder

    claim_run_folder(run_dir, [images, cameras])  # before RUN/scene is written: never into a user's folder or fit
    with console.status("automatic masks: sparse points with the cameras held fixed, then GrabCut"):
        scene, result = auto_masked_scene(
            images,
            cameras,
            run_dir / AUTO_SCENE,
            cfg.downscale,
            cfg.max_size,
            warn=warn,
            fallback=lambda distrusted: quick_fit_masks(distrusted, log=warn),
        )
    console.print(("" if result.used else "[yellow]") + result.reason + ("" if result.used else "[/]"))
    if result.distrusted:
        console.print(
            f"[yellow]distrusted masks:[/] {escape(', '.join(result.distrusted))} "
            f"(see {escape(str(run_dir / AUTO_SCENE / 'masks.png'))})"
        )
    return scene


def _command_line(ctx: typer.Context, **replace) -> list[str]:
    """The arguments that run ``ctx``'s command again: its parameters that differ from their defaults,
    with ``replace`` (parameter name -> value; None leaves it out)."""
    args = [ctx.info_name]
    for param in ctx.command.params:
        value = replace[param.name] if param.name in replace else ctx.params.get(param.name)
        if value is None or (param.param_type_name == "option" and value == param.default):
            continue
        if param.param_type_name == "argument":
            args.append(str(value))
        elif param.is_flag:
            args.append(param.opts[0] if value or not param.secondary_opts else param.secondary_opts[0])
        else:
            args += [param.opts[0], str(value)]
    return args


def register(app: typer.Typer) -> None:
    @app.command("fit")
    def fit(
        ctx: typer.Context,
        images: Optional[Path] = typer.Argument(
            None,
            help="Folder of photos, or a calibrated scene folder (from `dvr calibrate`, holding cams.json). "
            "May be left out with --resume: the run's recorded inputs are reloaded.",
        ),
        cameras: Optional[Path] = typer.Option(
            None,
            "--cameras",
            "-c",
            help="Camera file: cams.json, cameras.npz (DTU/IDR), transforms.json or a COLMAP "
            "model folder. Optional when IMAGES holds one.",
        ),
        masks: Optional[Path] = typer.Option(
            None,
            "--masks",
            "-m",
            help="Folder of object masks (white = object) named like the images, or 'auto' "
            "(as `dvr calibrate --masks auto`: written with the scene in RUN/scene; when most are distrusted the fit "
            "runs without masks). Default: the camera file's masks, the images' alpha, or a masks/ folder next to "
            "the images. Without masks the fit still works from colour alone: everything inside the normalised "
            "bounding cube is fitted (the object and whatever lies near it), a learned colour per photo stands for "
            "what lies beyond, and the mesh covers that cube.",
        ),
        out: Optional[Path] = typer.Option(
            None,
            "--out",
            "-o",
            help="Run folder to write: a new or empty folder, or a run dvr wrote. Default: "
            "runs/<scene-name>-<timestamp> (with --resume: runs/latest).",
        ),
        preset: Optional[str] = typer.Option(
            None,
            "--preset",
            help="Hyper-parameter preset: 'fast' (grid field, minutes on a CPU; default) or 'paper' "
            "(the published DVR MLP, GPU-days).",
        ),
        iters: Optional[int] = typer.Option(
            None,
            "--iters",
            help="Plan the fit over this many iterations (repeatable: the same seed gives the same "
            "result on CPU). With --minutes too, the iteration plan also stops after that many minutes.",
        ),
        minutes: Optional[float] = typer.Option(
            None,
            "--minutes",
            help=f"Plan the fit over this many minutes of fitting (default without --iters: "
            f"{DEFAULT_MINUTES:g}): the learning-rate decay, coarse-to-fine levels and marching samples follow the "
            "share of the budget used, so a longer budget gives a better result and the fit ends on time. A resumed "
            "time-planned fit continues its schedule from the minutes already used (it does not repeat the same "
            "iterations bit for bit; give more --minutes to extend it).",
        ),
        device: Optional[str] = typer.Option(None, "--device", help="auto (CUDA when present), cpu or cuda[:i]."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (fits are repeatable on CPU)."),
        resume: bool = typer.Option(
            False,
            "--resume",
            help="Continue the run in --out (default runs/latest) from its checkpoint. Checkpoints "
            f"are written atomically every {MAX_CHECKPOINT_INTERVAL_S / 60:g} minutes, on Ctrl-C and at the end: "
            f"a kill -9 or a power cut loses at most {MAX_CHECKPOINT_INTERVAL_S / 60:g} minutes of fitting.",
        ),
        downscale: Optional[float] = typer.Option(
            None, "--downscale", help="Divide the image size by this factor (>= 1) before fitting."
        ),
        max_size: Optional[int] = typer.Option(
            None, "--max-size", help="Also shrink images so that the longer side is at most this many pixels."
        ),
        holdout: Optional[int] = typer.Option(
            None,
            "--holdout",
            help="Keep every K-th view out of fitting and evaluate on them at the end (masked PSNR, SSIM, "
            "silhouette IoU; again with `dvr eval RUN`). 0: fit all views.",
        ),
        depth: Optional[Path] = typer.Option(
            None,
            "--depth",
            help="Folder of depth maps named like the images (camera-z depth: .npy/.exr in world "
            "units, or 16-bit .png, see --depth-scale); enables the depth loss.",
        ),
        depth_scale: float = typer.Option(
            1000.0, "--depth-scale", help="Values per world unit in 16-bit depth PNGs (1000: millimetres)."
        ),
        depth_weight: float = typer.Option(
            1.0, "--depth-weight", help="Weight of the depth loss when --depth is given."
        ),
        sparse_weight: Optional[float] = typer.Option(
            None,
            "--sparse-weight",
            help="Triangulate sparse points from the training photos (SIFT + COLMAP, cameras "
            "held fixed, a few seconds) and keep each camera's line of sight to a point it sees empty and the point's "
            "far side full, with this weight (0.5 is a start): carves concavities no silhouette shows (a courtyard, "
            "the inside of a cup). 0 (default): off.",
        ),
        viewer: bool = typer.Option(
            False,
            "--viewer",
            help="Follow the fit in a 3D web viewer (surface, live render, loss, held-out score; "
            "pause / resume, save a checkpoint now); it prints its address. Same result as without it.",
        ),
        port: int = typer.Option(8080, "--port", help="Port of the --viewer."),
        compile_field: Optional[bool] = typer.Option(
            None,
            "--compile/--no-compile",
            help="torch.compile the field's per-point work (off by default: on a "
            "2-core CPU it measured no faster); its warm-up counts in a --minutes budget, and where it cannot "
            "compile the fit says so in one line and runs uncompiled.",
        ),
        kernel: Optional[str] = typer.Option(
            None,
            "--kernel",
            help="The grid encoding's kernel: native (default: all levels of a point in one "
            "compiled pass on the CPU, compiled once per machine and cached; the torch path on a GPU) or torch "
            "(the reference: grid_sample per level).",
        ),
        background: Optional[str] = typer.Option(
            None,
            "--background",
            help="Without masks, what lies past the region of interest: envmap (default: a colour per "
            "direction and an exposure per photo), field (NeRF++'s inverted sphere: parallax, 7x the cost) or "
            "colour (one per photo).",
        ),
        object_share: Optional[float] = typer.Option(
            None,
            "--object-share",
            help="Without masks, the share of the plan (at its end) that fits the object with masks derived for it: "
            "the photos' automatic masks, or the object separated from the fit's surface (default 0.3; 0: never).",
        ),
        host: str = typer.Option("127.0.0.1", "--host", help=f"With --viewer: {HOST_HELP}"),
        nproc: int = typer.Option(
            1,
            "--nproc",
            help="Fit with N processes on this machine, data-parallel over each step's rays "
            "(torch.distributed: gloo on CPU, nccl with a GPU each on CUDA); as `torchrun --nproc-per-node N`.",
        ),
    ) -> None:
        """Fit occupancy and texture fields to calibrated photos, with or without masks (DVR; the fast preset
        volume-renders the occupancy first, as UNISURF, then ends on DVR's surface rendering)."""
        from ..fit import distributed
        from ..fit import fit as run_fit
        from ..fit import resume as resume_fit
        from ..fit.trainer import check_masks
        from ..run import default_run_dir, scene_name
        from ..scene import load_scene

        if viewer:  # a missing viewer extra is said before anything is written
            require("viser")
        overrides = dict(
            iters=iters,
            minutes=minutes,
            device=device,
            seed=seed,
            downscale=downscale,
            holdout=holdout,
            max_size=max_size,
            w_depth=depth_weight if depth is not None else None,
            w_sparse=sparse_weight,
            compile=compile_field,
            kernel=kernel,
            background=background,
            object_share=object_share,
        )
        console = Console(quiet=not distributed.is_writer())  # rank 0 alone prints
        warn = warner(console)
        auto_masks = masks is not None and str(masks) == "auto"
        if auto_masks and (resume or depth is not None or nproc != 1):
            raise DvrError(
                "--masks auto writes a new scene for a new fit: without --resume, --depth or --nproc "
                "(or run `dvr calibrate --masks auto` first and fit its scene folder)"
            )
        scene = None
        run_dir = out
        if not resume:
            if images is None:
                raise DvrError("IMAGES is required (a folder of photos or a calibrated scene folder)")
            cfg = FitConfig.from_preset(preset or "fast", **overrides)
            run_dir = out if out is not None else default_run_dir(scene_name(images))
            if auto_masks:
                scene = _scene_with_auto_masks(console, images, cameras, cfg, Path(run_dir), warn)
            else:
                scene = load_scene(
                    images,
                    cameras=cameras,
                    masks=masks,
                    downscale=cfg.downscale,
                    max_size=cfg.max_size,
                    depth=depth,
                    depth_scale=depth_scale,
                    warn=warn,
                )
        if nproc != 1 and distributed.world_size() == 1:  # not yet launched: run N copies of this command
            if viewer:
                raise DvrError("--viewer follows one process: leave out --nproc to watch the fit")
            if scene is not None:
                check_masks(scene)
            raise typer.Exit(distributed.launch(nproc, _command_line(ctx, nproc=None, out=run_dir)))
        progress = FitProgress(console)
        hooks = [progress]
        if viewer:
            from ..viewer import watch_fit

            hooks.append(watch_fit(host, port, title=f"dvr fit: {Path(run_dir or 'latest').name}"))
            print_address(console, hooks[-1].viewer)
        log = warner(console, "note")
        try:
            with progress.bar:
                if resume:
                    moved = None
                    if images is not None:  # the photos found elsewhere
                        moved = dict(images=images, cameras=cameras, masks=masks, depth=depth, depth_scale=depth_scale)
                    result = resume_fit(out, inputs=moved, hooks=hooks, log=log, preset=preset, **overrides)
                else:
                    result = run_fit(scene, cfg, run_dir, hooks=hooks, log=log)
        finally:
            if viewer:
                hooks[-1].viewer.stop()
        _summary(console, result, resume)
        if result.cfg.holdout and not result.interrupted and distributed.is_writer():
            _evaluate_holdout(console, result.run_dir, result.cfg.device)
