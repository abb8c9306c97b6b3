"""`dvr export` through the command line, on a tiny real fit of the example scene."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from dvr_cli.cli import main


@pytest.fixture(scope="module")
def run(tiny_run) -> Path:
    """A 4-iteration fit: the field is still about its initial sphere (a surface exists)."""
    return tiny_run


def test_default_run_and_output(run, monkeypatch):
    monkeypatch.chdir(run.parent.parent)  # runs/latest -> runs/ex
    assert main(["export", "--resolution", "32", "--device", "cpu"]) == 0
    mesh = trimesh.load(run / "export" / "mesh.ply", process=False)
    assert len(mesh.faces) > 500 and mesh.is_watertight
    # World units: the mesh lies inside the run's region (the unit cube mapped to the world).
    norm = json.loads((run / "scene.json").read_text())["normalization"]
    offset = np.abs(np.asarray(mesh.vertices) - norm["center"]).max()
    assert 0.2 * norm["scale"] < offset < norm["scale"]


def test_glb_atlas(run, tmp_path):
    out = tmp_path / "m.glb"
    assert (
        main(
            [
                "export",
                str(run),
                "--format",
                "glb",
                "--resolution",
                "32",
                "--texture-size",
                "64",
                "--simplify",
                "400",
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    mesh = trimesh.load(out, force="mesh", process=False)
    assert len(mesh.faces) <= 400 and mesh.visual.material.baseColorTexture.size == (64, 64)


def test_bad_inputs_exit_2_with_one_line(run, tmp_path, capsys, error_line):
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    assert main(["export", str(empty)]) == 2
    assert "no checkpoint" in error_line()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["export", str(run), "--out", str(blocker / "m.ply"), "--device", "cpu"]) == 2
    assert "cannot create the output folder" in error_line()
    assert main(["export", str(run), "--format", "stl", "--device", "cpu"]) == 2
    assert "unknown format 'stl'" in error_line()
    assert main(["export", str(run), "--texture", "atlas", "--device", "cpu"]) == 2
    assert "PLY keeps vertex colours" in error_line()


def test_no_surface(run, tmp_path, capsys, error_line):
    # The same run with the occupancy head's bias lowered by 100: the field is empty everywhere.
    copy = tmp_path / "empty_run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("export"))
    state = torch.load(copy / "checkpoints" / "latest.pt", weights_only=True)
    state["field"]["head.bias"][0] -= 100.0
    torch.save(state, copy / "checkpoints" / "latest.pt")
    assert main(["export", str(copy), "--resolution", "32", "--device", "cpu"]) == 2
    line = error_line()
    assert "empty everywhere" in line and "more iterations" in line
    assert not (copy / "export" / "mesh.ply").exists()


TOOLS = Path(__file__).resolve().parents[2] / ".tools"  # `make gltf-validator` installs the validator here
VALIDATE = """
const validator = require(process.argv[1]);
const bytes = new Uint8Array(require('fs').readFileSync(process.argv[2]));
validator.validateBytes(bytes).then(report => console.log(JSON.stringify(report.issues)));
"""


def khronos_validator() -> Path:
    """The gltf-validator npm package (installed into .tools/ when missing); skips without node / npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the Khronos glTF validator (npm package gltf-validator)")
    package = TOOLS / "node_modules" / "gltf-validator"
    if not package.is_dir():
        subprocess.run(["npm", "install", "--silent", "--prefix", str(TOOLS), "gltf-validator"], check=True)
    return package


def test_default_glb_passes_the_khronos_validator(run, tmp_path):
    out = tmp_path / "m.glb"
    assert (
        main(
            [
                "export",
                str(run),
                "--format",
                "glb",
                "--resolution",
                "32",
                "--texture-size",
                "64",
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    done = subprocess.run(
        ["node", "-e", VALIDATE, str(khronos_validator()), str(out)], capture_output=True, text=True, check=True
    )
    issues = json.loads(done.stdout)
    assert issues["numErrors"] == 0, issues["messages"][:5]
