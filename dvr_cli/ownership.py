"""dvr deletes or overwrites only what it provably wrote itself.

Every folder dvr creates (a scene, a run, a batch, a render folder) carries a marker file,
``.dvr-owned``, a small JSON saying what kind of folder it is and which dvr wrote it. The rules:

- dvr writes into a folder (:func:`claim_folder`) that is absent (it is created and marked),
  empty (it is marked), marked with the same kind, or inside a marked folder (RUN/export/);
- dvr replaces a whole folder (:func:`staged_folder`) only when it carries the marker of the same
  kind; the new folder is assembled in a uniquely named temporary folder beside it and swapped in
  only once complete, so a failure leaves the previous folder as it was;
- dvr writes a file at a path a user named (:func:`check_file_target`) only when no file is
  there, or the file lies in a marked folder;
- an output is never the input, nor inside it, nor around it (:func:`check_not_input`).

Anything else is a DvrError of one line saying why, and to choose another ``--out``. Temporary
and backup folders get unique names (``tempfile.mkdtemp``) and are removed only by the process
that made them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DvrError

MARKER = ".dvr-owned"
KINDS = ("scene", "run", "batch", "renders")
ELSEWHERE = "choose another --out"


def _version() -> str:
    from . import __version__

    return __version__


def mark(folder: Path, kind: str) -> None:
    """Write the marker into ``folder`` (which dvr has just created or found empty)."""
    if kind not in KINDS:
        raise ValueError(f"unknown folder kind {kind!r}")
    (Path(folder) / MARKER).write_text(json.dumps({"kind": kind, "dvr": _version()}) + "\n")


def marked_kind(folder: Path) -> str | None:
    """The kind in ``folder``'s own marker (None when there is no readable marker)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if kind in KINDS else None


def owner(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` that carries the marker, or None."""
    path = Path(path).absolute()
    for folder in (path, *path.parents):
        if marked_kind(folder) is not None:
            return folder
    return None


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and next(path.iterdir(), None) is None


def check_not_input(out: Path, inputs: Iterable[Path | str | None], nested_own: bool = False) -> None:
    """DvrError when ``out`` is one of ``inputs``, lies inside one, or holds one (paths resolved).

    nested_own: ``out`` (a marked folder) may hold an input that lies in a dvr folder nested inside
    it (the scene ``dvr fit --masks auto`` writes into its run): for a writer into ``out``, which
    adds its own files and never replaces ``out`` nor a folder nested in it.
    """
    target = Path(out).resolve()
    for given in inputs:
        if given is None:
            continue
        source = Path(given).resolve()
        if nested_own and source != target and _in_nested_dvr_folder(source, target):
            continue
        if target == source or source.is_relative_to(target):
            raise DvrError(f"holds the input {given}; dvr never writes over its inputs: {ELSEWHERE}", out)
        if target.is_relative_to(source) and source.is_dir():
            raise DvrError(f"lies inside the input {given}; dvr never writes into its inputs: {ELSEWHERE}", out)


def _in_nested_dvr_folder(source: Path, target: Path) -> bool:
    """True when ``target`` is marked and ``source`` lies in a marked folder strictly inside it."""
    holder = owner(source)
    return (marked_kind(target) is not None and holder is not None and holder != target
            and holder.resolve().is_relative_to(target))


def claim_folder(folder: str | Path, kind: str, inputs: Iterable[Path | str | None] = ()) -> Path:
    """Make ``folder`` ready for dvr to write into; DvrError when it is someone else's.

    Absent: created (with its parents) and marked. Empty, or inside a marked folder: marked. Marked
    with ``kind``: used as it is. Anything else (a file, a folder of another kind, a folder with
    files and no marker) is refused.
    """
    folder = Path(folder)
    check_not_input(folder, inputs, nested_own=True)
    if not folder.exists() and not folder.is_symlink():
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            pass  # made meanwhile (another rank of the same fit): judged below like any folder found
        else:
            mark(folder, kind)
            return folder
    if not folder.is_dir():
        raise DvrError(f"exists and is not a folder; {ELSEWHERE}", folder)
    found = marked_kind(folder)
    if found is not None and found != kind:
        raise DvrError(f"is a dvr {found} folder, not a {kind} folder; {ELSEWHERE}", folder)
    if found is None:
        if not _is_empty_dir(folder) and owner(folder.parent) is None:
            raise DvrError(f"exists and holds files dvr did not write (no {MARKER} marker): dvr does not write into "
                           f"it; {ELSEWHERE}, or an empty or new folder", folder)
        mark(folder, kind)
    return folder


def check_file_target(path: str | Path) -> None:
    """DvrError when a file exists at ``path`` and dvr did not write it (it is not in a marked folder)."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and owner(path.parent) is None:
        raise DvrError(f"exists and dvr did not write it (it is not in a folder dvr made): dvr does not overwrite "
                       f"it; {ELSEWHERE}, or delete it first", path)


def check_replaceable(folder: str | Path, kind: str, inputs: Iterable[Path | str | None] = ()) -> None:
    """DvrError unless ``folder`` is absent, an empty folder, or a ``kind`` folder dvr wrote,
    and is not an input (nor inside or around one)."""
    folder = Path(folder)
    check_not_input(folder, inputs)
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink():
        raise DvrError(f"is a symbolic link: dvr does not replace it; {ELSEWHERE}", folder)
    if not folder.is_dir():
        raise DvrError(f"exists and is not a folder; {ELSEWHERE}", folder)
    found = marked_kind(folder)
    if found == kind or (found is None and _is_empty_dir(folder)):
        return
    if found is not None:
        raise DvrError(f"is a dvr {found} folder, not a {kind} folder: dvr does not replace it; {ELSEWHERE}", folder)
    raise DvrError(f"exists and dvr did not write it (no {MARKER} marker): dvr does not replace it; {ELSEWHERE}, "
                   "or a new folder", folder)


def _swap_in(new: Path, folder: Path) -> None:
    """Put the finished ``new`` at ``folder``; a dvr folder already there is moved into a fresh
    backup folder first and removed only after the swap."""
    if not folder.exists():
        new.rename(folder)
        return
    if _is_empty_dir(folder):
        folder.rmdir()
        new.rename(folder)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{folder.name}.dvr-old-", dir=folder.parent))
    old = backup / folder.name
    folder.rename(old)
    try:
        new.rename(folder)
    except BaseException:
        old.rename(folder)
        backup.rmdir()
        raise
    shutil.rmtree(backup)


@contextmanager
def staged_folder(folder: str | Path, kind: str, inputs: Iterable[Path | str | None] = ()) -> Iterator[Path]:
    """Assemble a folder that replaces ``folder`` as a whole.

    Yields a new, marked, uniquely named folder beside ``folder``; when the block ends without an
    exception it takes ``folder``'s place (a previous ``kind`` folder is removed after the swap),
    otherwise it is removed and ``folder`` is left as it was. DvrError up front (nothing written)
    when ``folder`` may not be replaced (:func:`check_replaceable`).
    """
    folder = Path(folder)
    inputs = list(inputs)
    check_replaceable(folder, kind, inputs)
    folder.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{folder.name}.dvr-new-", dir=folder.parent))
    try:
        mark(new, kind)
        yield new
        check_replaceable(folder, kind, inputs)  # it may have changed while the new one was assembled
        _swap_in(new, folder)
    finally:
        if new.exists():
            shutil.rmtree(new)


def discard_folder(folder: str | Path) -> None:
    """Remove ``folder``, which must be dvr's (marked, or inside a marked folder); it is first moved
    into a fresh temporary folder beside it, so it is never left half-removed under its name."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir() or owner(folder) is None:
        raise DvrError(f"dvr did not write this folder and does not remove it; {ELSEWHERE}", folder)
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.dvr-old-", dir=folder.parent))
    folder.rename(trash / folder.name)
    shutil.rmtree(trash)
