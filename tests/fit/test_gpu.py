"""A tiny fit on CUDA: it runs there, and it steps as the same fit on the CPU does (the same rays
from the CPU generator, the same initial field; float sums in another order, so close, not equal).
Skipped, and reported as skipped, where no CUDA device is present."""

from __future__ import annotations

import pytest
import torch

from dvr_cli.fit import fit
from dvr_cli.run import load_run
from sphere_scene import tiny_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (the gpu marker)"),
]

ITERS = 4


def test_a_tiny_fit_on_cuda_steps_as_on_the_cpu(tmp_path, sphere_scene):
    devices = {}

    def where(job) -> bool:
        devices[job.iteration] = next(job.model.field.parameters()).device.type
        return False

    on_gpu = fit(sphere_scene, tiny_config(iters=ITERS, device="cuda"), tmp_path / "cuda", hooks=[where])
    on_cpu = fit(sphere_scene, tiny_config(iters=ITERS, device="cpu"), tmp_path / "cpu")
    assert devices == {i: "cuda" for i in range(1, ITERS + 1)}
    assert on_gpu.iterations == on_cpu.iterations == ITERS
    assert on_gpu.last.total == pytest.approx(on_cpu.last.total, rel=0.05)
    assert on_gpu.last.hit_rate == pytest.approx(on_cpu.last.hit_rate, abs=0.05)
    gpu = load_run(tmp_path / "cuda", device="cpu").field.state_dict()  # a CUDA run loads on the CPU
    cpu = load_run(tmp_path / "cpu", device="cpu").field.state_dict()
    for key in cpu:
        assert torch.allclose(gpu[key], cpu[key], rtol=1e-2, atol=1e-3), key
