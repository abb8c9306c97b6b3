"""`dvr fit --viewer`: the fit's result does not change with the viewer watching it (bit-equal
on CPU), the hook renders, scores, saves a checkpoint on request and blocks while paused.

Fits are compared on one CPU thread: with several, the field's gradients are summed in a
varying order and two fits without any viewer already differ in the last bits."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from browser import free_port
from dvr_cli.cli import main
from dvr_cli.config import FitConfig
from dvr_cli.fit import fit
from dvr_cli.run import CHECKPOINT
from dvr_cli.scene import load_scene
from dvr_cli.viewer import pose_of, watch_fit
from dvr_cli.viewer import watch as watch_module
from dvr_cli.viewer.app import TRAIN_COLOR


def field_state(run) -> dict[str, torch.Tensor]:
    return torch.load(run / CHECKPOINT, weights_only=False)["field"]


def assert_bit_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_fit_viewer_flag_prints_the_address_and_fits(viewer_example, tmp_path, capsys):
    port = free_port()
    run = tmp_path / "run"
    assert (
        main(
            [
                "fit",
                str(viewer_example),
                "--out",
                str(run),
                "--iters",
                "2",
                "--device",
                "cpu",
                "--viewer",
                "--port",
                str(port),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"viewer: http://127.0.0.1:{port}" in out and f"ssh -L {port}:localhost:{port}" in out
    assert torch.load(run / CHECKPOINT, weights_only=False)["iteration"] == 2


@pytest.mark.slow
def test_watched_fit_renders_scores_saves_and_pauses_without_changing_the_field(
    viewer_example, monkeypatch, tmp_path, one_thread
):
    # A client that is always connected; the viewer may take all the time it wants.
    monkeypatch.setattr(watch_module, "INTERACTIVE_SHARE", 1.0)
    monkeypatch.setattr(watch_module, "IDLE_SHARE", 1.0)
    monkeypatch.setattr(watch_module, "REFRESH_S", 0.0)
    cfg = FitConfig.from_preset("fast", iters=4, holdout=4, device="cpu")
    scene = load_scene(viewer_example)
    watch = watch_fit(port=free_port())
    monkeypatch.setattr(watch.viewer.server, "get_clients", lambda: {0: None})
    watch.viewer.live.settings.preview_size, watch.viewer.live.settings.full_size = 24, 48
    pose = pose_of(scene.normalization.camera_to_unit(scene.views[0].camera))
    renders, iterations = [], []

    def hook(job):
        if not iterations:
            watch.on_start(job)  # what the loop calls on a watch passed as a hook
        iterations.append(job.iteration)
        if job.iteration in (1, 3):  # the client moves now and then
            watch.viewer.live.request("client", pose, lambda out, camera: renders.append(camera.width))
        if job.iteration == 2:
            watch.save_requested = True
            watch.paused = True
            threading.Timer(1.0, lambda: setattr(watch, "paused", False)).start()
        start = time.monotonic()
        watch.after_step(job)
        if job.iteration == 2:
            assert time.monotonic() - start >= 0.9  # blocked while paused
            assert torch.load(job.run_dir / CHECKPOINT, weights_only=False)["iteration"] == 2
        return False

    try:
        fit(scene, cfg, tmp_path / "watched", hooks=[hook])
    finally:
        watch.viewer.stop()
    fit(scene, cfg, tmp_path / "alone")
    assert iterations == [1, 2, 3, 4]
    assert renders.count(24) == 2 and set(renders) <= {24, 48}  # each move rendered small first
    assert watch.viewer.surface is not None
    assert watch.scores[1] and all(3.0 < s < 40.0 for s in watch.scores[1])  # held-out masked PSNR, dB
    assert watch.losses[0] == [1, 2, 3, 4]
    curve = np.abs(watch.loss_plot.image.astype(int) - TRAIN_COLOR).max(axis=-1) < 40
    assert curve.sum() > 100  # the loss curve is drawn
    assert_bit_equal(field_state(tmp_path / "watched"), field_state(tmp_path / "alone"))
