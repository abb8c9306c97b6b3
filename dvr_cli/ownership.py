"""dvr deletes or overwrites only what it provably wrote itself, however a path is spelt.

Every folder dvr creates (a scene, a run, a batch, a render folder) carries a marker file,
``.dvr-owned``: a small JSON saying what kind of folder it is, which dvr wrote it, and the files
dvr wrote in it (``"files"``: paths relative to the folder, sub-folders dvr made included). Every
decision is made on real paths (symlinks followed, ``.`` and ``..`` removed): a path is judged
where it really is, not where its spelling seems to put it. The rules:

- a file is dvr's (:func:`is_recorded`) when the nearest marked folder above its real folder
  records its name; a symbolic link, or a file under a name dvr never wrote, is not;
- dvr writes a file (:func:`check_file_target`, called by ``files.atomic_path`` for every write)
  only where no file is, or over a file that is dvr's; it records the name *before* writing
  (:func:`record_written`), so an interrupted write never leaves a dvr file unrecorded;
- dvr claims a folder to write into (:func:`claim_folder`) only when it is absent (created and
  marked), empty (marked), or already marked with the same kind;
- dvr replaces or removes a whole folder (:func:`staged_folder`, :func:`discard_folder`) only when
  it is marked with that kind and holds nothing but dvr's files (and empty folders); otherwise it
  refuses, naming up to five of the files it would have lost;
- an output is never the input, nor inside it, nor around it (:func:`check_not_input`).

Anything else is a DvrError of one line saying why, and to choose another ``--out``. Temporary
and backup folders get unique names (``tempfile.mkdtemp``) and are removed only by the process
that made them. Paths are compared the way the file system does (``os.path.samefile``: the same
device and inode), so a case-insensitive file system's two spellings of one folder are one folder;
a recorded name must match the folder's entry exactly, case included, or it is not dvr's.

A marker written before dvr recorded files (no ``"files"`` key) counts the names its kind always
wrote (:data:`LEGACY_NAMES`) as dvr's and nothing else; the first write into such a folder turns
that into a record.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path

from .errors import DvrError

MARKER = ".dvr-owned"
KINDS = ("scene", "run", "batch", "renders")
ELSEWHERE = "choose another --out"
#: Files listed when a replace or a removal is refused.
LISTED = 5
#: What a marker without a record of files counts as dvr's: the names each kind of folder held
#: when it was written by a dvr that did not yet record its files (relative paths, fnmatch).
LEGACY_NAMES = {
    "run": (
        "config.json",
        "scene.json",
        "checkpoints/latest.pt",
        "sparse_points.npz",
        "metrics.jsonl",
        "previews/iter_*.png",
        "eval.json",
        "eval/*.png",
        "export/mesh.*",
        "export/mesh_texture.png",
        "export/surface-r*.npz",
        "renders/*/*.png",
        "renders/*/*.npy",
        "renders/*/video.mp4",
        ".lock",
        "batch_settings.json",
        "batch_result.json",
        "attempts.jsonl",
    ),
    "scene": ("cams.json", "images/*.png", "masks/*.png", "masks.json", "masks.png", "sparse.ply", "sfm/*"),
    "batch": ("batch.json", "batch.csv"),
    "renders": ("*.png", "*.npy", "video.mp4"),
}

_lock = threading.Lock()  # one marker update at a time within this process (the viewer saves from its thread)


def _version() -> str:
    from . import __version__

    return __version__


def real(path: str | Path) -> Path:
    """``path`` with every symlink followed and ``.`` / ``..`` removed (absent parts kept as spelt)."""
    return Path(os.path.realpath(Path(path).expanduser()))


def _same(a: Path, b: Path) -> bool:
    """``a`` and ``b`` are one file or folder, as the file system sees it (case-insensitive ones included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def _inside(path: Path, folder: Path) -> bool:
    """Real ``path`` is ``folder`` or lies below it (compared folder by folder with :func:`_same`)."""
    return any(_same(p, folder) for p in (path, *path.parents))


# --------------------------------------------------------------------------- the marker
def read_marker(folder: Path) -> dict | None:
    """``folder``'s own marker (None when there is none, or it is not dvr's)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        return None
    files = data.get("files")
    if files is not None and not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
        return None
    return data


def marked_kind(folder: Path) -> str | None:
    """The kind in ``folder``'s own marker (None when there is no readable marker)."""
    data = read_marker(folder)
    return None if data is None else data["kind"]


def _write_marker(folder: Path, data: dict) -> None:
    """The marker written whole: a fresh temporary file beside it, renamed over it."""
    fd, name = tempfile.mkstemp(prefix=f"{MARKER}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent=1) + "\n")
        os.replace(name, folder / MARKER)
    finally:
        Path(name).unlink(missing_ok=True)


def mark(folder: Path, kind: str, legacy: bool = False) -> None:
    """Write a marker recording no files into ``folder`` (which dvr has just created or found empty);
    ``legacy``: without a record, for a folder dvr wrote before it recorded files (:data:`LEGACY_NAMES`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown folder kind {kind!r}")
    _write_marker(Path(folder), {"kind": kind, "dvr": _version(), **({} if legacy else {"files": []})})


def owner(path: str | Path) -> Path | None:
    """The nearest folder at or above real ``path`` that carries a marker, or None."""
    path = real(path)
    for folder in (path, *path.parents):
        if marked_kind(folder) is not None:
            return folder
    return None


def _recorded_names(folder: Path, data: dict) -> set[str]:
    """The relative paths ``data`` (``folder``'s marker) counts as dvr's."""
    if data.get("files") is not None:
        return set(data["files"])
    patterns = LEGACY_NAMES[data["kind"]]
    found = set()
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if not path.is_symlink() and path.is_file() and any(fnmatchcase(rel, p) for p in patterns):
            found.add(rel)
    return found


def _entry(path: str | Path) -> Path:
    """Where writing ``path`` acts: its real folder and its own name (a link there is replaced, not followed)."""
    path = Path(path)
    return real(path.parent) / path.name


def _listed_exactly(entry: Path) -> bool:
    """``entry``'s name is in its folder as spelt (a case-insensitive file system finds other spellings
    too); the folder is listed only where the name's other case finds the same file."""
    other = entry.parent / entry.name.swapcase()
    if other.name == entry.name or not os.path.lexists(other) or not _same(other, entry):
        return True  # a case-sensitive folder, or a name without letters: the lookup was exact
    try:
        return entry.name in os.listdir(entry.parent)
    except OSError:
        return False


def is_recorded(path: str | Path) -> bool:
    """The file at ``path`` is one dvr wrote: a regular file whose name the nearest marker above its
    real folder records (relative to that marker's folder)."""
    entry = _entry(path)
    holder = owner(entry.parent)
    if holder is None or entry.is_symlink() or not entry.is_file() or not _listed_exactly(entry):
        return False
    data = read_marker(holder)
    return data is not None and entry.relative_to(holder).as_posix() in _recorded_names(holder, data)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s flock (and this process's lock) while its marker is read and rewritten."""
    with _lock:
        fd = os.open(folder, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                pass  # no locks here (some network file systems): one process writes a folder at a time anyway
            yield
        finally:
            os.close(fd)


def record_written(path: str | Path) -> None:
    """Record ``path`` as dvr's in the marker of the nearest marked folder above its real folder
    (nothing when there is none: the file lies outside dvr's folders). Called before the write."""
    entry = _entry(path)
    holder = owner(entry.parent)
    if holder is None:
        return
    rel = entry.relative_to(holder).as_posix()
    with _locked(holder):
        data = read_marker(holder)
        if data is None:
            return
        names = _recorded_names(holder, data)
        if rel in names and data.get("files") is not None:
            return
        data["files"] = sorted(names | {rel})
        _write_marker(holder, data)


# --------------------------------------------------------------------------- files
def check_file_target(path: str | Path) -> None:
    """DvrError when something is at ``path`` that dvr did not write (see :func:`is_recorded`)."""
    entry = _entry(path)
    if entry.is_dir() and not entry.is_symlink():
        raise DvrError(f"is a folder; {ELSEWHERE}", path)
    if os.path.lexists(entry) and not is_recorded(entry):
        raise DvrError(
            f"exists and dvr did not write it: dvr does not overwrite it; {ELSEWHERE}, or delete it first", path
        )


def prepare_write(path: str | Path) -> Path:
    """Check ``path`` (:func:`check_file_target`), record it as dvr's and return where to write it
    (its real folder and name): what every writer calls before it writes a file."""
    check_file_target(path)
    record_written(path)
    return _entry(path)


def remove_written(path: str | Path) -> None:
    """Remove the file at ``path`` when there is one; DvrError when dvr did not write it."""
    entry = _entry(path)
    if os.path.lexists(entry):
        check_file_target(entry)
        entry.unlink()


# --------------------------------------------------------------------------- folders
def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and next(path.iterdir(), None) is None


def foreign_files(folder: Path) -> list[Path]:
    """Everything under real ``folder`` that dvr did not write (files, links), each judged by the
    nearest marker above it (nested dvr folders by their own); markers and empty folders are dvr's."""
    folder = real(folder)
    top_holder = owner(folder)
    judge = {folder: (top_holder, _recorded_names(top_holder, read_marker(top_holder)) if top_holder else set())}
    found = []
    for top, dirs, files in os.walk(folder):
        top = Path(top)
        holder, names = judge[top]
        for name in dirs:
            data = read_marker(top / name)
            judge[top / name] = (top / name, _recorded_names(top / name, data)) if data else (holder, names)
        for name in [*files, *(d for d in dirs if (top / d).is_symlink())]:
            path = top / name
            if name == MARKER and top == holder:
                continue
            if holder is None or path.is_symlink() or path.relative_to(holder).as_posix() not in names:
                found.append(path)
    return sorted(found)


def _refuse_foreign(folder: Path, doing: str) -> None:
    """DvrError naming up to :data:`LISTED` of the files in ``folder`` that dvr did not write."""
    foreign = foreign_files(folder)
    if foreign:
        shown = ", ".join(str(p.relative_to(real(folder))) for p in foreign[:LISTED])
        more = f" and {len(foreign) - LISTED} more" if len(foreign) > LISTED else ""
        raise DvrError(
            f"holds files dvr did not write ({shown}{more}): dvr does not {doing} it; move them out "
            f"first or {ELSEWHERE}",
            folder,
        )


def check_not_input(out: Path, inputs: Iterable[Path | str | None], nested_own: bool = False) -> None:
    """DvrError when real ``out`` is one of ``inputs``, lies inside one, or holds one.

    nested_own: ``out`` (a marked folder) may hold an input that lies in a dvr folder nested inside
    it (the scene ``dvr fit --masks auto`` writes into its run): for a writer into ``out``, which
    adds its own files and never replaces ``out`` nor a folder nested in it.
    """
    target = real(out)
    for given in inputs:
        if given is None:
            continue
        source = real(given)
        if nested_own and not _same(source, target) and _in_nested_dvr_folder(source, target):
            continue
        if _inside(source, target):
            raise DvrError(f"holds the input {given}; dvr never writes over its inputs: {ELSEWHERE}", out)
        if _inside(target, source) and source.is_dir():
            raise DvrError(f"lies inside the input {given}; dvr never writes into its inputs: {ELSEWHERE}", out)


def _in_nested_dvr_folder(source: Path, target: Path) -> bool:
    """True when ``target`` is marked and ``source`` lies in a marked folder strictly inside it."""
    holder = owner(source)
    return (
        marked_kind(target) is not None and holder is not None and not _same(holder, target) and _inside(holder, target)
    )


def claim_folder(folder: str | Path, kind: str, inputs: Iterable[Path | str | None] = ()) -> Path:
    """Make ``folder`` ready for dvr to write into; DvrError when it is someone else's.

    Judged at its real path. Absent: created (with its parents) and marked. Empty: marked. Marked
    with ``kind``: used as it is. Anything else (a file, a folder of another kind, a folder with
    files and no marker of its own, even inside a dvr folder) is refused. Returns ``folder``.
    """
    place = real(folder)
    check_not_input(folder, inputs, nested_own=True)
    if not os.path.lexists(place):
        try:
            place.mkdir(parents=True)
        except FileExistsError:
            pass  # made meanwhile (another rank of the same fit): judged below like any folder found
        else:
            mark(place, kind)
            return Path(folder)
    if not place.is_dir():
        raise DvrError(f"exists and is not a folder; {ELSEWHERE}", folder)
    found = marked_kind(place)
    if found is not None and found != kind:
        raise DvrError(f"is a dvr {found} folder, not a {kind} folder; {ELSEWHERE}", folder)
    if found is None:
        if not _is_empty_dir(place):
            raise DvrError(
                f"exists and holds files dvr did not write (no {MARKER} marker of its own): dvr writes "
                f"only into a new or empty folder; {ELSEWHERE}",
                folder,
            )
        mark(place, kind)
    return Path(folder)


def check_replaceable(folder: str | Path, kind: str, inputs: Iterable[Path | str | None] = ()) -> None:
    """DvrError unless ``folder`` is absent, an empty folder, or a ``kind`` folder holding only what
    dvr wrote, and is not an input (nor inside or around one)."""
    check_not_input(folder, inputs)
    if Path(folder).is_symlink():
        raise DvrError(f"is a symbolic link: dvr does not replace it; {ELSEWHERE}", folder)
    place = real(folder)
    if not os.path.lexists(place):
        return
    if not place.is_dir():
        raise DvrError(f"exists and is not a folder; {ELSEWHERE}", folder)
    found = marked_kind(place)
    if found is None and _is_empty_dir(place):
        return
    if found is None:
        raise DvrError(
            f"exists and dvr did not write it (no {MARKER} marker): dvr does not replace it; "
            f"{ELSEWHERE}, or a new folder",
            folder,
        )
    if found != kind:
        raise DvrError(f"is a dvr {found} folder, not a {kind} folder: dvr does not replace it; {ELSEWHERE}", folder)
    _refuse_foreign(place, "replace")


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

    Yields a new, marked, uniquely named folder beside real ``folder``; when the block ends
    without an exception it takes ``folder``'s place (a previous ``kind`` folder is removed after
    the swap), otherwise it is removed and ``folder`` is left as it was. DvrError up front
    (nothing written) when ``folder`` may not be replaced (:func:`check_replaceable`): a folder
    holding a file dvr did not write is refused, naming the files.
    """
    inputs = list(inputs)
    check_replaceable(folder, kind, inputs)
    place = real(folder)
    place.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{place.name}.dvr-new-", dir=place.parent))
    try:
        mark(new, kind)
        yield new
        check_replaceable(folder, kind, inputs)  # it may have changed while the new one was assembled
        _swap_in(new, place)
    finally:
        if new.exists():
            shutil.rmtree(new)


def discard_folder(folder: str | Path) -> None:
    """Remove ``folder``, which must be a marked folder holding only what dvr wrote; it is first
    moved into a fresh temporary folder beside it, so it is never left half-removed under its name."""
    if Path(folder).is_symlink() or not Path(folder).is_dir() or marked_kind(real(folder)) is None:
        raise DvrError(f"dvr did not write this folder and does not remove it; {ELSEWHERE}", folder)
    place = real(folder)
    _refuse_foreign(place, "remove")
    trash = Path(tempfile.mkdtemp(prefix=f".{place.name}.dvr-old-", dir=place.parent))
    place.rename(trash / place.name)
    shutil.rmtree(trash)
