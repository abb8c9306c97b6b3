"""dvr_cli.ownership and files.atomic_path: dvr writes, replaces and removes only what it wrote."""

from __future__ import annotations

import os

import pytest

from dvr_cli.errors import DvrError
from dvr_cli.files import FILE_MODE, atomic_path, write_text_atomic
from dvr_cli.ownership import (MARKER, check_file_target, check_not_input, claim_folder, discard_folder, marked_kind,
                               owner, staged_folder)


def test_claim_folder_takes_new_empty_and_own_folders_only(tmp_path):
    new = claim_folder(tmp_path / "a" / "run", "run")
    assert marked_kind(new) == "run"
    (tmp_path / "empty").mkdir()
    assert marked_kind(claim_folder(tmp_path / "empty", "run")) == "run"
    (new / "config.json").write_text("{}")
    claim_folder(new, "run")  # an earlier run of dvr's
    inner = new / "renders" / "x"
    inner.mkdir(parents=True)
    (inner / "0000.png").write_bytes(b"png")
    assert marked_kind(claim_folder(inner, "renders")) == "renders" and owner(inner) == inner

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
    for out, reason in ((images, "holds the input"), (tmp_path / "cap", "holds the input"),
                        (images / "scene", "lies inside the input")):
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
        (folder / "cams.json").write_text("first")
    assert (out / "cams.json").read_text() == "first" and marked_kind(out) == "scene"
    (tmp_path / "scene.old").mkdir()  # a user's folder of the name dvr used to take
    (tmp_path / "scene.tmp").write_text("theirs")
    with pytest.raises(RuntimeError):
        with staged_folder(out, "scene") as folder:
            (folder / "cams.json").write_text("second")
            raise RuntimeError("failed midway")
    assert (out / "cams.json").read_text() == "first"
    with staged_folder(out, "scene") as folder:
        (folder / "cams.json").write_text("third")
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
    (run / "export" / "mesh.ply").write_bytes(b"dvr's")
    check_file_target(run / "export" / "mesh.ply")
    with pytest.raises(DvrError, match="does not remove it"):
        discard_folder(tmp_path)
    discard_folder(run)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mesh.ply"]


def test_a_marker_that_is_not_dvrs_counts_for_nothing(tmp_path):
    (tmp_path / MARKER).write_text("not json")
    assert marked_kind(tmp_path) is None and owner(tmp_path) is None


def test_atomic_path_keeps_the_previous_file_on_failure(tmp_path):
    path = tmp_path / "eval.json"
    write_text_atomic(path, "old")
    assert path.stat().st_mode & 0o777 == FILE_MODE
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["eval.json"]
    with atomic_path(path, fsync=True) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp") and tmp.name.startswith(".eval.json.")
        tmp.write_text("new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["eval.json"]


def test_a_link_to_a_dvr_scene_is_not_replaced(tmp_path):
    scene = claim_folder(tmp_path / "scene", "scene")
    (tmp_path / "link").symlink_to(scene)
    with pytest.raises(DvrError, match="symbolic link"):
        with staged_folder(tmp_path / "link", "scene"):
            pass
    assert (tmp_path / "link").is_symlink() and marked_kind(scene) == "scene"
