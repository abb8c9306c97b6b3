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
    entries = [{"name": "a", "images": str(tiny_example), "iters": 2},
               {"name": "b", "images": str(tiny_example), "iters": 2}]
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
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "latest"]  # no temporary folder left


def test_the_settings_hash_follows_config_export_and_input_files(tiny_example, tmp_path):
    spec, = read_scenes(write_manifest(tmp_path / "m.yaml", [{"name": "a", "images": str(tiny_example),
                                                              "iters": 2}]))
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


@pytest.mark.parametrize("name", ["batch.json", "batch.csv", "latest"])
def test_scene_names_of_the_batchs_own_files_are_refused(tiny_example, tmp_path, name):
    with pytest.raises(DvrError, match="the batch's own files"):
        read_scenes(write_manifest(tmp_path / "m.yaml", [{"name": name, "images": str(tiny_example)}]))


def test_a_batch_out_holding_a_users_files_is_refused(tiny_example, tmp_path):
    from dvr_cli.batch import run_batch

    out = tmp_path / "results"
    out.mkdir()
    (out / "batch.csv").write_text("the user's own table\n")
    spec, = read_scenes(write_manifest(tmp_path / "m.yaml", [{"name": "a", "images": str(tiny_example)}]))
    with pytest.raises(DvrError, match="dvr did not write"):
        run_batch([spec], out)
    assert (out / "batch.csv").read_text() == "the user's own table\n"
