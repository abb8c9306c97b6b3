"""dvr_cli.ownership and files.atomic_path: dvr writes, replaces and removes only what it wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dvr_cli.errors import DvrError
from dvr_cli.files import FILE_MODE, atomic_path, write_text_atomic
from dvr_cli.ownership import (
    MARKER,
    check_file_target,
    check_not_input,
    check_replaceable,
    claim_folder,
    discard_folder,
    foreign_files,
    is_recorded,
    mark,
    marked_kind,
    owner,
    read_marker,
    remove_written,
    staged_folder,
)


def test_claim_folder_takes_new_empty_and_own_folders_only(tmp_path):
    new = claim_folder(tmp_path / "a" / "run", "run")
    assert marked_kind(new) == "run"
    (tmp_path / "empty").mkdir()
    assert marked_kind(claim_folder(tmp_path / "empty", "run")) == "run"
    write_text_atomic(new / "config.json", "{}")
    claim_folder(new, "run")  # an earlier run of dvr's
    inner = new / "renders" / "x"
    inner.mkdir(parents=True)
    assert marked_kind(claim_folder(inner, "renders")) == "renders" and owner(inner) == inner.resolve()
    mine = new / "mine"  # a folder a user made inside a dvr folder is not dvr's
    mine.mkdir()
    (mine / "0000.png").write_bytes(b"png")
    with pytest.raises(DvrError, match="holds files dvr did not write"):
        claim_folder(mine, "renders")
    assert marked_kind(mine) is None

    users = tmp_path / "mine"
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    with pytest.raises(DvrError, match="holds files dvr did not write"):
        claim_folder(users, "run")
    with pytest.raises(DvrError, match="is a dvr run folder, not a scene folder"):
        claim_folder(new, "scene")
    with pytest.raises(DvrError, match="is not a folder"):
        claim_folder(users / "notes.txt", "run")
    assert sorted(p.name for p in users.iterdir()) == ["notes.txt"]


def test_an_output_is_never_an_input_nor_inside_or_around_one(tmp_path):
    images = tmp_path / "cap" / "images"
    images.mkdir(parents=True)
    cams = tmp_path / "cap" / "cams.json"
    cams.write_text("{}")
    for out, reason in (
        (images, "holds the input"),
        (tmp_path / "cap", "holds the input"),
        (images / "scene", "lies inside the input"),
    ):
        with pytest.raises(DvrError, match=reason):
            check_not_input(out, [images, cams])
    check_not_input(tmp_path / "cap" / "scene", [images, cams])  # beside the inputs is fine
    check_not_input(tmp_path / "cap" / "images2", [images, cams])  # a name that merely starts alike


def test_a_run_may_hold_the_scene_dvr_wrote_into_it(tmp_path):
    """dvr fit --masks auto writes RUN/scene, then fits it into RUN: a writer into the marked run
    may hold an input inside a dvr folder nested in it; a replace, or an unmarked nesting, may not."""
    run = claim_folder(tmp_path / "run", "run")
    scene = claim_folder(run / "scene", "scene")
    (scene / "images").mkdir()
    assert claim_folder(run, "run", [scene / "images"]) == run
    with pytest.raises(DvrError, match="holds the input"):
        check_not_input(run, [scene / "images"])  # as a replace checks it
    (run / "photos").mkdir()
    with pytest.raises(DvrError, match="holds the input"):
        claim_folder(run, "run", [run / "photos"])  # not in a nested dvr folder: the user's


def test_staged_folder_replaces_only_after_success(tmp_path):
    out = tmp_path / "scene"
    with staged_folder(out, "scene") as folder:
        write_text_atomic(folder / "cams.json", "first")
    assert (out / "cams.json").read_text() == "first" and marked_kind(out) == "scene"
    (tmp_path / "scene.old").mkdir()  # a user's folder of the name dvr used to take
    (tmp_path / "scene.tmp").write_text("theirs")
    with pytest.raises(RuntimeError):
        with staged_folder(out, "scene") as folder:
            write_text_atomic(folder / "cams.json", "second")
            raise RuntimeError("failed midway")
    assert (out / "cams.json").read_text() == "first"
    with staged_folder(out, "scene") as folder:
        write_text_atomic(folder / "cams.json", "third")
    assert (out / "cams.json").read_text() == "third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene", "scene.old", "scene.tmp"]
    assert (tmp_path / "scene.tmp").read_text() == "theirs"

    run = tmp_path / "run"
    claim_folder(run, "run")
    with pytest.raises(DvrError, match="is a dvr run folder, not a scene folder"):
        with staged_folder(run, "scene"):
            pass
    assert marked_kind(run) == "run"


def test_file_targets_and_discards(tmp_path):
    users = tmp_path / "mesh.ply"
    check_file_target(users)  # nothing there yet
    users.write_bytes(b"theirs")
    with pytest.raises(DvrError, match="dvr did not write it"):
        check_file_target(users)
    run = claim_folder(tmp_path / "run", "run")
    (run / "export").mkdir()
    write_text_atomic(run / "export" / "mesh.ply", "dvr's")
    check_file_target(run / "export" / "mesh.ply")
    with pytest.raises(DvrError, match="does not remove it"):
        discard_folder(tmp_path)
    discard_folder(run)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mesh.ply"]


def test_a_marker_that_is_not_dvrs_counts_for_nothing(tmp_path):
    (tmp_path / MARKER).write_text("not json")
    assert marked_kind(tmp_path) is None and owner(tmp_path) is None


def test_atomic_path_keeps_the_previous_file_on_failure(tmp_path):
    run = claim_folder(tmp_path / "run", "run")
    path = run / "eval.json"
    write_text_atomic(path, "old")
    assert path.stat().st_mode & 0o777 == FILE_MODE
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old" and sorted(os.listdir(run)) == [MARKER, "eval.json"]
    with atomic_path(path, fsync=True) as tmp:
        assert tmp.parent == run and tmp.name.endswith(".tmp") and tmp.name.startswith(".eval.json.")
        tmp.write_text("new")
    assert path.read_text() == "new" and sorted(os.listdir(run)) == [MARKER, "eval.json"]


def test_a_link_to_a_dvr_scene_is_not_replaced(tmp_path):
    scene = claim_folder(tmp_path / "scene", "scene")
    (tmp_path / "link").symlink_to(scene)
    with pytest.raises(DvrError, match="symbolic link"):
        with staged_folder(tmp_path / "link", "scene"):
            pass
    assert (tmp_path / "link").is_symlink() and marked_kind(scene) == "scene"


def test_a_path_is_judged_where_it_really_is(tmp_path):
    """run/../mine/mesh.ply is the user's mine/mesh.ply; run/link/mesh.ply, with run/link a link to the
    user's folder, is too: neither is dvr's, whatever the run's marker records."""
    run = claim_folder(tmp_path / "run", "run")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "mesh.ply").write_bytes(b"theirs")
    (run / "link").symlink_to(mine)
    for spelt in (run / ".." / "mine" / "mesh.ply", run / "link" / "mesh.ply", run / "." / "link" / "mesh.ply"):
        with pytest.raises(DvrError, match="dvr did not write it"):
            write_text_atomic(spelt, "dvr's")
    assert (mine / "mesh.ply").read_bytes() == b"theirs" and owner(run / "link") is None
    write_text_atomic(run / "link" / "new.ply", "dvr's")  # a new file may be written, and is not recorded
    assert not is_recorded(mine / "new.ply") and read_marker(run)["files"] == []
    with pytest.raises(DvrError, match="dvr did not write it"):
        write_text_atomic(run / "link" / "new.ply", "again")


def test_a_marker_covers_only_the_files_it_records(tmp_path):
    """A file a user puts into a dvr folder, or into a sub-folder of it, is not dvr's: it is not
    overwritten, nor removed with the folder; a replace or a removal is refused, naming it."""
    scene = tmp_path / "scene"
    with staged_folder(scene, "scene") as folder:
        (folder / "images").mkdir()
        write_text_atomic(folder / "images" / "a.png", "png")
        write_text_atomic(folder / "cams.json", "{}")
    assert read_marker(scene)["files"] == ["cams.json", "images/a.png"] and is_recorded(scene / "images" / "a.png")
    (scene / "masks").mkdir()
    (scene / "masks" / "a_fixed.png").write_bytes(b"hand-fixed")
    (scene / "notes.txt").write_text("mine")
    assert [p.name for p in foreign_files(scene)] == ["a_fixed.png", "notes.txt"]
    with (
        pytest.raises(DvrError, match=r"holds files dvr did not write \(masks/a_fixed.png, notes.txt\)"),
        staged_folder(scene, "scene"),
    ):
        pass
    with pytest.raises(DvrError, match="dvr does not remove it"):
        discard_folder(scene)
    with pytest.raises(DvrError, match="dvr did not write it"):
        remove_written(scene / "notes.txt")
    with pytest.raises(DvrError, match="dvr did not write it"):
        write_text_atomic(scene / "notes.txt", "dvr's")
    assert (scene / "notes.txt").read_text() == "mine" and (scene / "masks" / "a_fixed.png").is_file()
    for i in range(7):
        (scene / f"extra{i}.txt").write_text("mine")
    with pytest.raises(DvrError, match=r"and 4 more\)"):
        check_replaceable(scene, "scene")


def test_a_link_inside_a_dvr_folder_is_not_dvrs(tmp_path):
    run = claim_folder(tmp_path / "run", "run")
    outside = tmp_path / "outside.txt"
    outside.write_text("theirs")
    write_text_atomic(run / "eval.json", "{}")
    (run / "eval.json").unlink()
    (run / "eval.json").symlink_to(outside)  # at a name dvr recorded: a link is never dvr's
    with pytest.raises(DvrError, match="dvr did not write it"):
        write_text_atomic(run / "eval.json", "{}")
    assert [p.name for p in foreign_files(run)] == ["eval.json"] and outside.read_text() == "theirs"
    with pytest.raises(DvrError, match="dvr does not remove it"):
        discard_folder(run)


def test_nested_dvr_folders_are_judged_by_their_own_marker(tmp_path):
    batch = claim_folder(tmp_path / "batch", "batch")
    write_text_atomic(batch / "batch.json", "{}")
    scene = claim_folder(batch / "a", "run")
    write_text_atomic(scene / "config.json", "{}")
    assert read_marker(batch)["files"] == ["batch.json"] and read_marker(scene)["files"] == ["config.json"]
    assert foreign_files(batch) == []
    (scene / "notes.txt").write_text("mine")
    assert foreign_files(batch) == [(scene / "notes.txt").resolve()]


def test_a_marker_without_a_record_counts_the_names_its_kind_wrote(tmp_path):
    """A run written before dvr recorded its files: its known names are dvr's, anything else is not;
    the first write turns the names into a record."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    mark(run, "run", legacy=True)
    for name in ("config.json", "checkpoints/latest.pt", "export/mesh.ply", "export/mine.ply", "notes.txt"):
        (run / name).parent.mkdir(exist_ok=True)
        (run / name).write_text(name)
    assert [p.name for p in foreign_files(run)] == ["mine.ply", "notes.txt"]
    assert is_recorded(run / "export" / "mesh.ply") and not is_recorded(run / "export" / "mine.ply")
    write_text_atomic(run / "eval.json", "{}")
    assert read_marker(run)["files"] == ["checkpoints/latest.pt", "config.json", "eval.json", "export/mesh.ply"]


def test_two_spellings_of_one_folder_are_one_folder(tmp_path):
    """Inputs are compared as the file system sees them (device and inode), not by spelling."""
    cap = tmp_path / "cap"
    (cap / "images").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(cap)
    for out in (tmp_path / "alias" / "images", tmp_path / "alias", tmp_path / "alias" / "images" / ".." / "images"):
        with pytest.raises(DvrError, match="holds the input|lies inside"):
            check_not_input(out, [cap / "images"])
    with pytest.raises(DvrError, match="lies inside the input"):
        claim_folder(tmp_path / "alias" / "images" / "run", "run", [cap / "images"])
    assert not (cap / "images" / "run").exists()


def test_spellings_realpath_leaves_apart_are_compared_by_the_file_system(tmp_path, monkeypatch):
    """A case-insensitive file system's `Images` and `images` are one folder that realpath may spell
    two ways (simulated: a realpath that follows no link): they are compared by device and inode."""
    from dvr_cli import ownership

    (tmp_path / "cap" / "images").mkdir(parents=True)
    (tmp_path / "Cap").symlink_to(tmp_path / "cap")
    monkeypatch.setattr(ownership, "real", lambda p: Path(os.path.abspath(p)))
    with pytest.raises(DvrError, match="holds the input"):
        check_not_input(tmp_path / "Cap" / "images", [tmp_path / "cap" / "images"])


def test_writing_through_a_link_into_a_dvr_folder_records_the_real_name(tmp_path):
    run = claim_folder(tmp_path / "run", "run")
    (tmp_path / "back").symlink_to(run)
    write_text_atomic(tmp_path / "back" / "eval.json", "{}")
    assert read_marker(run)["files"] == ["eval.json"] and is_recorded(run / "eval.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DvrError, match="does not remove it"):
        discard_folder(tmp_path / "empty")  # not marked: not dvr's, even with nothing in it
    assert (tmp_path / "empty").is_dir()


def test_a_name_that_differs_in_case_is_not_dvrs(tmp_path, monkeypatch):
    """On a case-insensitive file system `EVAL.JSON` opens the file dvr recorded as `eval.json`:
    a name is dvr's only when the folder's entry is spelt exactly as recorded."""
    run = claim_folder(tmp_path / "run", "run")
    write_text_atomic(run / "eval.json", "{}")
    (run / "EVAL.JSON").symlink_to("eval.json")  # what a case-insensitive file system finds under the other case
    real_listdir = os.listdir
    monkeypatch.setattr(
        os, "listdir", lambda p: [n.upper() if n == "eval.json" else n for n in real_listdir(p) if n != "EVAL.JSON"]
    )
    assert not is_recorded(run / "eval.json")
    with pytest.raises(DvrError, match="dvr did not write it"):
        check_file_target(run / "eval.json")


def test_a_users_lock_file_is_not_taken(tmp_path):
    from dvr_cli.run import RunLock

    run = claim_folder(tmp_path / "run", "run")
    (run / ".lock").write_text("the user's\n")
    with pytest.raises(DvrError, match="dvr did not write it"):
        RunLock(run).acquire()
    assert (run / ".lock").read_text() == "the user's\n"
