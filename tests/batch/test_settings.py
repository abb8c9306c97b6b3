"""A batch reuses a scene's finished result only while its settings are unchanged, and keeps clear
of its own files. process_scene without Ray: a few seconds."""

from __future__ import annotations

import pytest

from dvr_cli.batch import ExportOptions, process_scene, read_scenes
from dvr_cli.batch.scene import RESULT, settings_hash
from dvr_cli.errors import DvrError
from manifests import write_manifest

EXPORT = ExportOptions("ply", 16)


def _run(specs, out):
    return {spec.name: process_scene(spec, out / spec.name, EXPORT, device="cpu") for spec in specs}


def test_a_changed_manifest_refits_the_changed_scene_only(tiny_example, tmp_path):
    manifest = tmp_path / "m.yaml"
    entries = [
        {"name": "a", "images": str(tiny_example), "iters": 2},
        {"name": "b", "images": str(tiny_example), "iters": 2},
    ]
    out = tmp_path / "out"
    first = _run(read_scenes(write_manifest(manifest, entries)), out)
    assert all(r.status == "done" and not r.reused and r.iterations == 2 for r in first.values())
    kept = (out / "a" / RESULT).read_bytes()

    entries[1]["iters"] = 3  # scene b changes, scene a does not
    second = _run(read_scenes(write_manifest(manifest, entries)), out)
    assert second["a"].reused and (out / "a" / RESULT).read_bytes() == kept
    assert not second["b"].reused and second["b"].iterations == 3 and second["b"].attempts == [0]

    third = _run(read_scenes(write_manifest(manifest, entries)), out)
    assert third["a"].reused and third["b"].reused
    assert sorted(p.name for p in out.iterdir()) == ["a", "b"]  # no temporary folder, no `latest` outside runs/


def test_the_settings_hash_follows_config_export_and_input_files(tiny_example, tmp_path):
    (spec,) = read_scenes(write_manifest(tmp_path / "m.yaml", [{"name": "a", "images": str(tiny_example), "iters": 2}]))
    base = settings_hash(spec, EXPORT)
    assert settings_hash(spec, EXPORT) == base
    assert settings_hash(spec, ExportOptions("ply", 32)) != base
    spec.config["iters"] = 3
    assert settings_hash(spec, EXPORT) != base
    spec.config["iters"] = 2
    (tiny_example / "images" / "extra.txt").write_text("a new file in the inputs")
    try:
        assert settings_hash(spec, EXPORT) != base
    finally:
        (tiny_example / "images" / "extra.txt").unlink()


def test_touching_a_photo_keeps_the_finished_scene(tiny_example, tmp_path):
    """The inputs are hashed by content: a new modification time alone refits nothing; a scene
    whose stored hash is the old kind (by modification time) and still matches is kept too; a
    changed photo starts the scene over, unless the user put files of their own into its folder."""
    import os
    import shutil

    from dvr_cli.batch.scene import SETTINGS

    scene = tmp_path / "scene"
    shutil.copytree(tiny_example, scene)
    manifest = write_manifest(tmp_path / "m.yaml", [{"name": "a", "images": str(scene), "iters": 2}])
    out = tmp_path / "out"
    (spec,) = read_scenes(manifest)
    assert not _run([spec], out)["a"].reused
    kept = (out / "a" / RESULT).read_bytes()
    photo = min((scene / "images").iterdir())
    os.utime(photo, ns=(photo.stat().st_atime_ns, photo.stat().st_mtime_ns + 10**9))
    assert _run([spec], out)["a"].reused and (out / "a" / RESULT).read_bytes() == kept

    (out / "a" / SETTINGS).write_text(f'{{"hash": "{settings_hash(spec, EXPORT, version=2)}"}}')
    assert _run([spec], out)["a"].reused and settings_hash(spec, EXPORT) in (out / "a" / SETTINGS).read_text()

    photo.write_bytes(photo.read_bytes() + b"\0")  # a changed photo, and notes of the user's in the scene
    (out / "a" / "notes.txt").write_text("mine\n")
    with pytest.raises(DvrError, match=r"holds files dvr did not write \(notes.txt\)"):
        _run([spec], out)
    assert (out / "a" / RESULT).read_bytes() == kept and (out / "a" / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("name", ["batch.json", "batch.csv", "latest"])
def test_scene_names_of_the_batchs_own_files_are_refused(tiny_example, tmp_path, name):
    with pytest.raises(DvrError, match="the batch's own files"):
        read_scenes(write_manifest(tmp_path / "m.yaml", [{"name": name, "images": str(tiny_example)}]))


def test_a_batch_out_holding_a_users_files_is_refused(tiny_example, tmp_path):
    from dvr_cli.batch import run_batch

    out = tmp_path / "results"
    out.mkdir()
    (out / "batch.csv").write_text("the user's own table\n")
    (spec,) = read_scenes(write_manifest(tmp_path / "m.yaml", [{"name": "a", "images": str(tiny_example)}]))
    with pytest.raises(DvrError, match="dvr did not write"):
        run_batch([spec], out)
    assert (out / "batch.csv").read_text() == "the user's own table\n"
