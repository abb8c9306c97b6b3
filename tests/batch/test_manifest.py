"""Manifests and folders of scenes -> SceneSpecs; bad entries are one-line errors before any fitting."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from dvr_cli.batch.manifest import read_scenes
from dvr_cli.cli import main
from dvr_cli.config.renamed import RENAMED
from dvr_cli.errors import DvrError
from saved_configs import OLD_NAMES


def test_yaml_and_json_manifests_resolve_paths_and_options(tiny_example, tmp_path):
    (tmp_path / "data").symlink_to(tiny_example, target_is_directory=True)
    entries = [
        {"name": "a", "images": "data/images", "cameras": "data/cams.json", "iters": 10, "downscale": 2},
        {"images": "data", "gt_mesh": "data/mesh.ply", "lr": 0.005},
    ]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"scenes": entries}))
    (tmp_path / "m.json").write_text(json.dumps(entries))  # the bare list works too
    from_yaml = read_scenes(tmp_path / "m.yaml", defaults={"iters": 50, "holdout": 4, "preset": "fast"})
    from_json = read_scenes(tmp_path / "m.json", defaults={"iters": 50, "holdout": 4, "preset": "fast"})
    assert from_yaml == from_json
    a, b = from_yaml
    assert a.name == "a" and b.name == tiny_example.name  # default name: the scene folder's, as `dvr fit` names runs
    assert a.images == (tmp_path / "data" / "images").resolve() and a.cameras == (tmp_path / "data/cams.json").resolve()
    assert a.load == {"downscale": 2} and b.load == {}
    assert b.gt_mesh == (tmp_path / "data" / "mesh.ply").resolve()
    # the entry's own keys win over the command line's, which win over the preset
    cfg_a, cfg_b = a.fit_config(), b.fit_config()
    assert (cfg_a.schedule.iters, cfg_a.holdout, cfg_a.optimizer.lr) == (10, 4, 0.01)
    assert (cfg_b.schedule.iters, cfg_b.holdout, cfg_b.optimizer.lr) == (50, 4, 0.005)


def test_a_manifest_may_give_settings_by_their_old_names(tiny_example, tmp_path):
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"scenes": [{"images": str(tiny_example), **OLD_NAMES}]}))
    flat = read_scenes(tmp_path / "m.yaml")[0].fit_config().flat()
    assert {RENAMED[k]: flat[RENAMED[k]] for k in OLD_NAMES} == {RENAMED[k]: v for k, v in OLD_NAMES.items()}


def test_a_folder_of_scene_folders(tiny_example, tmp_path):
    for name in ("mug", "shoe"):
        (tmp_path / name).symlink_to(tiny_example, target_is_directory=True)
    (tmp_path / ".cache").mkdir()
    (tmp_path / "out").mkdir()  # the batch's own output inside the folder is not a scene
    (tmp_path / "notes.txt").write_text("not a scene")
    specs = read_scenes(tmp_path, {"iters": 7}, exclude=tmp_path / "out")
    assert [s.name for s in specs] == ["mug", "shoe"]
    assert specs[1].images == (tmp_path / "shoe").resolve() and specs[1].fit_config().schedule.iters == 7


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"name": "mug", "images": "nowhere/mug"}, "scene 'mug': images"),
        ({"name": "mug", "images": "SCENE", "masks": "SCENE/nomasks"}, "scene 'mug': masks"),
        ({"images": "SCENE", "colour": "red"}, "scene 1: unknown key(s) colour"),
        ({"cameras": "SCENE/cams.json"}, "scene 1: 'images' is required"),
        ({"name": "a b", "images": "SCENE"}, "name 'a b' must be"),
        ({"images": "SCENE", "preset": "slow"}, "unknown preset 'slow'"),
    ],
)
def test_bad_entries_are_one_line_errors(tiny_example, tmp_path, entry, message, error_line):
    entry = {k: v.replace("SCENE", str(tiny_example)) for k, v in entry.items()}
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump([entry]))
    with pytest.raises(DvrError, match=re.escape(message)) as raised:
        read_scenes(manifest)
    assert str(raised.value).startswith(f"{manifest}: ")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out")]) == 2
    assert message in error_line()
    assert not (tmp_path / "out").exists()  # nothing started


def test_repeated_names_and_bad_files(tiny_example, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump([{"images": str(tiny_example)}, {"images": str(tiny_example)}]))
    with pytest.raises(DvrError, match="two scenes are named 'scene'"):
        read_scenes(manifest)
    manifest.write_text("scenes: [images: a\n")
    with pytest.raises(DvrError, match=r"not valid YAML \(line"):
        read_scenes(manifest)
    manifest.write_text("scenes: []\n")
    with pytest.raises(DvrError, match="no scenes to fit"):
        read_scenes(manifest)
    with pytest.raises(DvrError, match="does not exist"):
        read_scenes(tmp_path / "absent.yaml")
