"""Every broken run file gives one line naming it and exit 2; a failing checkpoint write keeps the last one."""

from __future__ import annotations

import errno
import json
import shutil

import pytest
import torch

from dvr_cli.cli import main
from dvr_cli.errors import DvrError
from dvr_cli.fit import fit
from dvr_cli.run import load_run
from sphere_scene import tiny_config

COMMANDS = (["export", "--resolution", "16"], ["render", "--frames", "1"], ["eval"], ["fit", "--resume"])


@pytest.fixture
def broken(tiny_run, tmp_path):
    """A fresh copy of the tiny run to break."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    return copy


def _breakers():
    def write(name, text):
        return lambda run: (run / name).write_text(text)

    def config_value(key, value):
        def apply(run):
            cfg = json.loads((run / "config.json").read_text())
            (run / "config.json").write_text(json.dumps({**cfg, key: value}))

        return apply

    return {
        "scene.json missing": (lambda run: (run / "scene.json").unlink(), "scene.json: no such file"),
        "scene.json not JSON": (write("scene.json", '{"cameras": ['), "scene.json: not valid JSON"),
        "scene.json without cameras": (
            write("scene.json", json.dumps({"normalization": {"center": [0, 0, 0], "scale": 1}})),
            "'cameras' must be a non-empty list",
        ),
        "config.json sh_degree 3": (config_value("sh_degree", 3), "config 'sh_degree' must be 0, 1 or 2, got 3"),
        "config.json unknown key": (config_value("colour", 1), "unknown config keys ['colour']"),
        "config.json not JSON": (write("config.json", "{"), "config.json: not valid JSON"),
        "checkpoint garbage": (
            lambda run: (run / "checkpoints" / "latest.pt").write_bytes(b"garbage"),
            "corrupt checkpoint",
        ),
    }


@pytest.mark.parametrize("what", list(_breakers()))
def test_broken_run_files_are_one_line_errors(broken, what, capsys, error_line):
    breaker, message = _breakers()[what]
    breaker(broken)
    for command in COMMANDS:
        assert (
            main(
                [
                    command[0],
                    *(["--out", str(broken)] if command[0] == "fit" else [str(broken)]),
                    *command[1:],
                    "--device",
                    "cpu",
                ]
            )
            == 2
        ), command
        line = error_line()
        assert message in line, (command, line)


def test_a_failing_checkpoint_write_is_one_line_and_keeps_the_last_checkpoint(tmp_path, sphere_scene, monkeypatch):
    run = tmp_path / "run"
    real_save, saved = torch.save, []

    def disk_full_after_two(obj, f):  # a checkpoint after every iteration; the third write fails
        if len(saved) == 2:
            open(f, "wb").write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append({k: v.clone() for k, v in obj["field"].items()})
        real_save(obj, f)

    monkeypatch.setattr(torch, "save", disk_full_after_two)
    with pytest.raises(
        DvrError,
        match=r"latest.pt: cannot write the checkpoint \(No space left on device\); "
        r"the previous checkpoint is kept",
    ):
        fit(sphere_scene, tiny_config(iters=5, checkpoint_every_s=0), run)
    monkeypatch.undo()
    after = load_run(run, device="cpu")
    assert after.iteration == 2
    assert all(torch.equal(saved[-1][k], v) for k, v in after.field.state_dict().items())
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest.pt"]  # no temp file left
    assert not (run / ".lock").exists()
