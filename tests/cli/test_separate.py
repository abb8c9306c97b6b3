"""`dvr separate`: a run fitted with masks is refused in one line; a run without masks and
without a table says in one line that nothing separates, and writes no region."""

from __future__ import annotations

from dvr_cli.cli import main
from dvr_cli.config import FitConfig
from dvr_cli.fit import fit
from dvr_cli.scene import load_scene


def test_separate_a_masked_run_is_refused(tiny_run, error_line):
    assert main(["separate", str(tiny_run), "--device", "cpu"]) == 2
    assert "fitted with masks" in error_line()


def test_nothing_to_separate_in_one_line(tiny_example, tmp_path, capsys):
    scene = load_scene(tiny_example)
    fit(scene.without_masks(), FitConfig.from_preset("fast", iters=4, device="cpu"), tmp_path / "run")
    assert main(["separate", str(tmp_path / "run"), "--masks", "--device", "cpu"]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(said) == 1 and said[0].startswith("note: no object could be separated"), said
    assert not (tmp_path / "run" / "object.npz").exists()
