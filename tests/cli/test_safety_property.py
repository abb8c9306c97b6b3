"""Property (Hypothesis): whatever the folders around it and however --out is spelt, no writing
command changes or removes a byte of a file dvr did not write, nor marks a user's folder as dvr's;
each refusal is one line, exit code 2, no traceback.

Each example builds a random tree in a fresh folder: a copy of one small fitted run (``run/``,
dvr's), the user's capture (``cap/``), user files inside and beside the run, a user's folder
(``mine/``), symlinks from inside the run to outside (``run/link``) and back (``mine/back``), a
nested dvr folder (``run/sub``), a user's ``runs/latest``. It then runs one command in-process
through ``cli.main`` (the typer app and its one-line errors) with ``--out`` at one of the places,
spelt relative, absolute, through ``..``, ``./``, a symlink, with a trailing slash.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boards import board_poses, render_board
from dvr_cli.cli import main
from dvr_cli.files import write_text_atomic
from dvr_cli.ownership import MARKER, claim_folder
from manifests import write_manifest

#: Examples per command: the fast subset runs in every test run, the slow one with the slow tests.
FAST, SLOW = 20, 200
COMMON = {
    "derandomize": True,
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}

#: Files a user may have put inside the run (none is a name the fitted run's marker records).
USER_IN_RUN = (
    "notes.txt",
    "export/mesh_mine.ply",
    "export/notes.md",
    "renders/train/0000.png",
    "eval/extra.png",
    "mine_inside/eval.json",
    "scene/cams.json",
)
#: Files in the user's own folder mine/: names dvr's commands write.
USER_IN_MINE = ("mesh.ply", "eval.json", "intrinsics.json", "0000.png", "cams.json", "notes.txt")
#: Where --out may point, relative to the example's folder.
PLACES = (
    "new",
    "mine",
    "empty",
    "run",
    "run/export",
    "run/sub",
    "run/renders/train",
    "run/mine_inside",
    "cap",
    "cap/images",
    "run/link",
    "alias",
    "mine/back",
    "mine/back/export",
    "runs/new",
    "runs",
    ".",
)
SPELLINGS = ("absolute", "relative", "dotdot", "dot", "trailing", "through_back")
FILE_NAMES = {
    "export": ("mesh.ply", "new.ply"),
    "eval": ("eval.json", "new.json"),
    "checkerboard": ("intrinsics.json", "new.json"),
}


@dataclass(frozen=True)
class Tree:
    in_run: tuple[str, ...]
    in_mine: tuple[str, ...]
    empty: bool
    link: bool
    back: bool
    alias: bool
    sub: bool
    latest: bool


trees = st.builds(
    Tree,
    st.lists(st.sampled_from(USER_IN_RUN), unique=True).map(tuple),
    st.lists(st.sampled_from(USER_IN_MINE), unique=True).map(tuple),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@pytest.fixture(scope="module")
def base(tiny_run, tiny_example, tmp_path_factory) -> Path:
    """What every example copies: the fitted run (exported once), the user's capture and four
    checkerboard photos."""
    base = tmp_path_factory.mktemp("safety_base")
    shutil.copytree(tiny_run, base / "run", symlinks=True)
    assert main(["export", str(base / "run"), "--resolution", "16", "--device", "cpu"]) == 0  # and its surface cache
    for name in ("images", "masks"):
        shutil.copytree(tiny_example / name, base / "cap" / name)
    shutil.copy(tiny_example / "cams.json", base / "cap" / "cams.json")
    (base / "boards").mkdir()
    for k, (eye, target) in enumerate(board_poses()[:4]):
        cv2.imwrite(str(base / "boards" / f"board_{k:02d}.png"), render_board(eye, target))
    return base


def build(base: Path, tree: Tree) -> tuple[Path, set[str]]:
    """A fresh folder holding the example's tree, and the files in it that dvr wrote."""
    w = Path(tempfile.mkdtemp(prefix="safety-"))
    # hard links: instant, and safe as dvr replaces a file by renaming a new one over it (the run's
    # checkpoint keeps its modification time, so the export's surface cache stays valid)
    shutil.copytree(base / "run", w / "run", symlinks=True, copy_function=os.link)
    dvrs = {p.relative_to(w).as_posix() for p in (w / "run").rglob("*")}
    shutil.copytree(base / "cap", w / "cap")
    (w / "mine").mkdir()
    for name in tree.in_run:
        (w / "run" / name).parent.mkdir(parents=True, exist_ok=True)
        (w / "run" / name).write_text(f"the user's {name}\n")
    for name in tree.in_mine:
        (w / "mine" / name).write_text(f"the user's {name}\n")
    if tree.empty:
        (w / "empty").mkdir()
    if tree.link:
        (w / "run" / "link").symlink_to(w / "mine")
    if tree.back:
        (w / "mine" / "back").symlink_to(w / "run")
    if tree.alias:
        (w / "alias").symlink_to(w / "mine")
    if tree.sub:
        sub = claim_folder(w / "run" / "sub", "renders")
        write_text_atomic(sub / "0000.png", "dvr's")
        dvrs |= {"run/sub", f"run/sub/{MARKER}", "run/sub/0000.png"}
    if tree.latest:
        (w / "runs").mkdir()
        (w / "runs" / "latest").symlink_to(w / "mine")
    return w, dvrs


def snapshot(w: Path, dvrs: set[str]) -> dict[str, object]:
    """Everything of the user's in ``w``: files (bytes) and links (targets) dvr did not write, and
    whether each non-empty folder of the user's has a marker (it must not gain one)."""
    state: dict[str, object] = {}
    for top, dirs, files in os.walk(w):
        for name in [*files, *dirs]:
            path = Path(top) / name
            rel = path.relative_to(w).as_posix()
            if rel in dvrs:
                continue
            if path.is_symlink():
                state[rel] = ("link", os.readlink(path))
            elif path.is_file():
                state[rel] = path.read_bytes()
            elif any(path.iterdir()):
                state[rel] = ("folder", (path / MARKER).exists())
    return state


def spell(w: Path, place: str, name: str | None, how: str) -> str:
    """--out for ``place`` (and file ``name``) spelt ``how``; the command runs in ``w``."""
    rel = place if name is None else f"{place}/{name}"
    if how == "absolute":
        return str(w / rel)
    if how == "relative":
        return rel
    if how == "dotdot":
        return f"run/../{rel}"
    if how == "dot":
        return f"./{rel}"
    if how == "trailing":
        return f"{w / rel}/"
    return f"mine/back/../{rel}"  # through_back: mine/back -> run, so mine/back/.. is the example's folder


def command(kind: str, out: str, w: Path, base: Path) -> list[str]:
    if kind == "calibrate":
        return ["calibrate", "cap/images", "--cameras", "cap/cams.json", "--out", out, "--max-size", "16"]
    if kind == "fit":
        return [
            "fit",
            "cap/images",
            "--cameras",
            "cap/cams.json",
            "--out",
            out,
            "--iters",
            "1",
            "--max-size",
            "16",
            "--device",
            "cpu",
        ]
    if kind == "render":
        return ["render", "run", "--view", "test", "--out", out, "--resolution-scale", "0.25", "--device", "cpu"]
    if kind == "export":
        return ["export", "run", "--resolution", "16", "--out", out, "--device", "cpu"]
    if kind == "eval":
        return ["eval", "run", "--json", out, "--points", "100", "--device", "cpu"]
    if kind == "checkerboard":
        return [
            "calibrate",
            "--checkerboard",
            str(base / "boards"),
            "--pattern",
            "9x6",
            "--square",
            "0.025",
            "--out",
            out,
        ]
    manifest = write_manifest(
        w / "manifest.yaml",
        [{"name": "cap", "images": "cap/images", "cameras": "cap/cams.json", "iters": 1, "max_size": 16}],
    )
    return ["batch", str(manifest), "--out", out, "--iters", "1", "--resolution", "16", "--cpus-per-scene", "1"]


def run_in(w: Path, argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` in ``w``; its exit code and stderr."""
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(w)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.chdir(cwd)
    return code, err.getvalue()


def check(base: Path, kind: str, tree: Tree, place: str, name: str | None, how: str) -> None:
    """Build, snapshot, run, compare; the example's folder is removed afterwards."""
    if how == "through_back" and not tree.back:
        how = "dotdot"
    w, dvrs = build(base, tree)
    try:
        argv = command(kind, spell(w, place, name, how), w, base)
        before = snapshot(w, dvrs)
        code, err = run_in(w, argv)
        after = snapshot(w, dvrs)
        lost = {k: v for k, v in before.items() if after.get(k) != v}
        assert not lost, f"{argv} changed the user's {sorted(lost)}"
        assert code in (0, 1, 2), (argv, code, err)
        if code == 2:
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and "Traceback" not in err, (argv, err)
    finally:
        shutil.rmtree(w, ignore_errors=True)


def _property(kind: str, examples: int):
    names = st.sampled_from(FILE_NAMES[kind]) if kind in FILE_NAMES else st.none()

    @settings(max_examples=examples, **COMMON)
    @given(tree=trees, place=st.sampled_from(PLACES), name=names, how=st.sampled_from(SPELLINGS))
    def prop(base, tree, place, name, how):
        check(base, kind, tree, place, name, how)

    return prop


KINDS = ("calibrate", "fit", "render", "export", "eval", "checkerboard")
#: Examples per command in the slow suite: 200 where they fit the suite's budget of about 90 s on
#: two cores, fewer for the commands whose examples fit, render or score (a fit or an eval that is
#: not refused takes about a second).
SLOW_EXAMPLES = {"calibrate": SLOW, "checkerboard": SLOW, "export": 80, "render": 50, "eval": 25, "fit": 25, "batch": 8}


@pytest.mark.parametrize("kind", KINDS)
def test_no_user_byte_changes(base, kind):
    _property(kind, FAST)(base)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [*KINDS, "batch"])
def test_no_user_byte_changes_many(base, kind, request):
    if kind == "batch":
        request.getfixturevalue("local_ray")
    _property(kind, SLOW_EXAMPLES[kind])(base)


def test_batch_leaves_user_bytes(base, local_ray):
    _property("batch", 5)(base)
