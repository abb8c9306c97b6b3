"""The native encoding kernel (fields/fused.py) against the torch reference: values, gradients
(float64 gradcheck), the cube's boundary, repeatability over thread counts, and a tiny fit with each kernel."""

import hashlib

import pytest
import torch

from dvr_cli.fields import GridField
from dvr_cli.fields.fused import fused_encode, reference_kernel
from dvr_cli.fields.normals import normals
from dvr_cli.fit import trainer
from sphere_scene import tiny_config

# corners, faces and edges of the cube, and points past it (clamped)
BOUNDARY = [
    [1, 1, 1],
    [-1, -1, -1],
    [1, -1, 0.3],
    [0, 1, -1],
    [1.2, 0, 0],
    [-1.3, 0.5, 2],
    [1, 1, -1],
    [0.999999, 1, 1],
    [-1, 0.25, 0.5],
    [0.5, 0.5, 1.0],
]


def _pair(dtype=torch.float32, **kwargs):
    """The same field (same parameters) with each kernel."""
    torch.manual_seed(0)
    settings = dict(
        resolutions=(4, 8, 16),
        features=3,
        hidden=8,
        hash_resolutions=(33,),
        hash_features=2,
        hash_table_log2=9,
        grid_init_std=1.0,
        **kwargs,
    )
    native, reference = GridField(kernel="native", **settings), GridField(kernel="torch", **settings)
    reference.load_state_dict(native.state_dict())
    return native.to(dtype), reference.to(dtype)


def _points(n=3000, dtype=torch.float32):
    generator = torch.Generator().manual_seed(1)
    return torch.cat([torch.tensor(BOUNDARY, dtype=dtype), torch.rand(n, 3, generator=generator, dtype=dtype) * 2 - 1])


def _encode_and_grads(field, points, weights):
    p = points.clone().requires_grad_(True)
    encoding = field.encode(p)
    (encoding * weights).sum().backward()
    return encoding.detach(), p.grad, [x.grad for x in (*field.grids, *field.tables)]


def _close(a, b, rtol=1e-5):
    return (a - b).abs().max().item() <= rtol * b.abs().max().item()


@pytest.mark.parametrize("active", [4, 2])
def test_native_matches_torch_on_every_level_and_the_boundary(active):
    native, reference = _pair()
    native.set_active_levels(active)
    reference.set_active_levels(active)
    points = _points()
    weights = torch.randn(3 + 3 * 3 + 2, len(points), generator=torch.Generator().manual_seed(2))
    got, want = _encode_and_grads(native, points, weights), _encode_and_grads(reference, points, weights)
    assert _close(got[0], want[0]) and _close(got[1], want[1])
    for level, (g, w) in enumerate(zip(got[2], want[2])):
        if level < active:
            assert _close(g, w), f"level {level}"
        else:
            assert g is None and w is None
    assert got[0][3 + 3 * min(active, 3) + 2 * max(active - 3, 0) :].abs().sum() == 0  # inactive levels: 0


def test_native_gradcheck_in_float64():
    native, _ = _pair(torch.float64)
    points = (_points(20, torch.float64) * 0.97 + 0.0131).requires_grad_(True)  # off the clamps' and cells' kinks
    params = (*native.grids, *native.tables)

    def encode(p, *levels):
        return fused_encode(p, levels[:3], levels[3:], native.hash_resolutions, native.n_levels)

    assert torch.autograd.gradcheck(encode, (points, *params), eps=1e-6, atol=1e-5, fast_mode=True)


def test_gradients_repeat_bit_for_bit_over_thread_counts():
    native, _ = _pair()
    points = _points(20000)
    weights = torch.randn(14, len(points), generator=torch.Generator().manual_seed(3))
    threads = torch.get_num_threads()
    runs = []
    try:
        for n in (1, 2, 2):
            torch.set_num_threads(n)
            native.zero_grad(set_to_none=True)
            runs.append(_encode_and_grads(native, points, weights))
    finally:
        torch.set_num_threads(threads)
    for run in runs[1:]:
        assert torch.equal(run[0], runs[0][0]) and torch.equal(run[1], runs[0][1])
        assert all(torch.equal(a, b) for a, b in zip(run[2], runs[0][2]))


def test_double_backward_normals_run_on_the_reference():
    native, reference = _pair()
    points = _points(200).requires_grad_(True)
    got = normals(native, points, create_graph=True)
    got.sum().backward()  # the native kernel differentiates once: this must take the torch path
    assert _close(got.detach(), normals(reference, points).detach())
    with reference_kernel():
        assert torch.equal(native.encode(points), reference.encode(points))


def _checksum(run_dir) -> str:
    state = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=False)["field"]
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].contiguous().numpy().tobytes())
    return digest.hexdigest()


def test_a_tiny_fit_runs_with_each_kernel_and_they_agree(tmp_path, sphere_scene):
    runs = {
        kernel: trainer.fit(sphere_scene, tiny_config(iters=6, kernel=kernel), tmp_path / kernel)
        for kernel in ("native", "torch")
    }
    assert runs["native"].iterations == runs["torch"].iterations == 6
    assert abs(runs["native"].last.total - runs["torch"].last.total) < 1e-3 * abs(runs["torch"].last.total)
    again = trainer.fit(sphere_scene, tiny_config(iters=6, kernel="native"), tmp_path / "again")
    assert again.last.total == runs["native"].last.total
    assert _checksum(tmp_path / "again") == _checksum(tmp_path / "native")
