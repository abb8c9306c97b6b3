"""A command whose pip extra is missing (Ray for `dvr batch`, viser for the viewer) says in one line how
to install it, exit 2, before it writes anything."""

from __future__ import annotations

import sys

import pytest

from dvr_cli.cli import main


@pytest.fixture
def missing(monkeypatch):
    """``missing("viser")``: the package (and its submodules) cannot be imported, and dvr's viewer, which
    imports it when imported, is imported afresh; all restored after the test."""
    import dvr_cli

    def hide(package: str) -> None:
        for name in list(sys.modules):
            if name.split(".")[0] == package or name.startswith("dvr_cli.viewer"):
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, package, None)  # `import package` raises ImportError
        if hasattr(dvr_cli, "viewer"):  # `import dvr_cli.viewer as v` finds the old package again afterwards
            monkeypatch.setattr(dvr_cli, "viewer", dvr_cli.viewer)

    return hide


def test_view_without_the_viewer_extra(missing, tiny_example, error_line):
    missing("viser")
    assert main(["view", str(tiny_example)]) == 2
    line = error_line()
    assert line.startswith("error: the viewer (dvr view, dvr fit --viewer) needs the 'viewer' extra (")
    assert line.endswith("): pip install 'dvr-cli[viewer]'")


def test_fit_viewer_without_the_viewer_extra_writes_nothing(missing, tiny_example, tmp_path, error_line):
    missing("viser")
    out = tmp_path / "run"
    assert main(["fit", str(tiny_example), "--out", str(out), "--iters", "1", "--viewer"]) == 2
    assert "pip install 'dvr-cli[viewer]'" in error_line()
    assert not out.exists()


def test_batch_without_the_batch_extra_writes_nothing(missing, tiny_example, tmp_path, error_line):
    missing("ray")
    out = tmp_path / "out"
    assert main(["batch", str(tiny_example.parent), "--out", str(out)]) == 2
    assert error_line() == (
        "error: dvr batch needs the 'batch' extra (import of ray halted; None in sys.modules): "
        "pip install 'dvr-cli[batch]'"
    )
    assert not out.exists()


def test_the_rest_of_dvr_imports_neither_extra():
    import subprocess

    code = (
        "import sys; import dvr_cli.cli, dvr_cli.fit, dvr_cli.mesh.export, dvr_cli.evaluate.report; "
        "print(sorted({'ray', 'viser'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
