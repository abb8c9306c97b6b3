"""torch.compile of the field (cfg.rendering.compile): same fields as eager, one line and eager on failure,
repeatable."""

import hashlib

import pytest
import torch

from dvr_cli.fields import GridField
from dvr_cli.fields import compiled as compiled_module
from dvr_cli.fields.compiled import compile_field
from dvr_cli.fit import trainer
from sphere_scene import tiny_config


def _checksum(run_dir) -> str:
    state = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=False)["field"]
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].numpy().tobytes())
    return digest.hexdigest()


def _failing_compile(fn, **kwargs):
    def run(*args, **kw):
        raise RuntimeError("InductorError: no working C++ compiler found\nsecond line")

    return run


def test_a_failing_compile_falls_back_with_one_line(monkeypatch):
    monkeypatch.setattr(compiled_module.torch, "compile", _failing_compile)
    torch.manual_seed(0)
    field = GridField(resolutions=(4, 8), features=2, hidden=8)
    points = torch.rand(50, 3) * 2 - 1
    eager = field.occupancy_logits(points)
    lines = []
    compilation = compile_field(field, True, warn=lines.append)
    assert compilation.active and field._hidden is compilation
    first, second = field.occupancy_logits(points), field.texture(points)
    assert torch.equal(first, eager) and second.shape == (50, 3)
    assert not compilation.active
    assert len(lines) == 1 and "no working C++ compiler found" in lines[0] and "second line" not in lines[0]
    assert "_hidden" not in field.state_dict() and set(field.state_dict()) == set(
        GridField(resolutions=(4, 8), features=2, hidden=8).state_dict()
    )


def test_compile_off_leaves_the_field_alone():
    field = GridField(resolutions=(4,), features=2, hidden=8)
    assert compile_field(field, False) is None and "_hidden" not in vars(field)


def test_iters_fits_repeat_bit_for_bit_and_say_whether_compiled(tmp_path, sphere_scene, monkeypatch, capsys):
    cfg = tiny_config(iters=10)
    runs = [trainer.fit(sphere_scene, cfg, tmp_path / name) for name in ("a", "b")]
    assert not runs[0].compiled and _checksum(tmp_path / "a") == _checksum(tmp_path / "b")
    # compile requested but failing: one line, then the same fit as uncompiled, and the run says so
    monkeypatch.setattr(compiled_module.torch, "compile", _failing_compile)
    fallback = trainer.fit(sphere_scene, tiny_config(iters=10, compile=True), tmp_path / "c")
    assert not fallback.compiled and _checksum(tmp_path / "c") == _checksum(tmp_path / "a")
    assert capsys.readouterr().err.count("torch.compile of the field failed") == 1
    assert '"compiled": false' in (tmp_path / "c" / "metrics.jsonl").read_text()


@pytest.mark.slow
def test_compiled_iters_fits_repeat_bit_for_bit(tmp_path, sphere_scene):
    cfg = tiny_config(iters=10, compile=True)
    runs = [trainer.fit(sphere_scene, cfg, tmp_path / name) for name in ("a", "b")]
    assert all(r.compiled for r in runs), "torch.compile fell back on this machine"
    assert _checksum(tmp_path / "a") == _checksum(tmp_path / "b")
    eager = trainer.fit(sphere_scene, tiny_config(iters=10), tmp_path / "eager")
    # compiled and eager fields agree to rounding after 10 steps
    assert abs(runs[0].last.total - eager.last.total) < 1e-3 * max(1.0, abs(eager.last.total))
