"""Adam's lazy update of the grids (fields/lazy_adam.py): torch's Adam where a gradient is not 0, nothing elsewhere."""

import torch

from dvr_cli.fields.lazy_adam import LazyAdam, field_optimizer


def test_lazy_adam_is_adam_on_the_touched_entries_and_leaves_the_rest():
    torch.manual_seed(0)
    grid = torch.randn(1, 3, 5, 5, 5).contiguous(memory_format=torch.channels_last_3d)
    lazy, dense = torch.nn.Parameter(grid.clone()), torch.nn.Parameter(grid.clone())
    mlp = torch.nn.Parameter(torch.randn(7))
    mlp_ref = torch.nn.Parameter(mlp.detach().clone())
    ours = field_optimizer([mlp, lazy], [lazy], lr=0.1)
    reference = torch.optim.Adam([mlp_ref, dense], lr=0.1)
    assert isinstance(ours, LazyAdam)
    both, second = torch.zeros(grid.shape, dtype=torch.bool), torch.zeros(grid.shape, dtype=torch.bool)
    both[0, :, :3] = True
    second[0, :, 1:3] = True  # touched by both steps; both & ~second: by the first alone
    after_first = None
    for touched in (both, second):
        g = torch.randn(grid.shape) * touched
        lazy.grad, dense.grad = g.contiguous(memory_format=torch.channels_last_3d), g.clone()
        mlp.grad = torch.randn(7)
        mlp_ref.grad = mlp.grad.clone()
        ours.step()
        reference.step()
        after_first = dense.detach().clone() if after_first is None else after_first
    first_only = both & ~second
    assert torch.allclose(lazy.detach()[second], dense.detach()[second], rtol=1e-5, atol=1e-6)
    assert torch.allclose(lazy.detach()[first_only], after_first[first_only], rtol=1e-5, atol=1e-6)
    assert (dense.detach()[first_only] - after_first[first_only]).abs().min() > 1e-3  # Adam's momentum moved them
    assert torch.equal(lazy.detach()[~both], grid[~both]) and torch.allclose(mlp, mlp_ref)


def test_without_lazy_parameters_the_optimizer_is_torchs_adam():
    p = torch.nn.Parameter(torch.zeros(3))
    assert type(field_optimizer([p], [], lr=0.1)) is torch.optim.Adam
    meta = torch.nn.Parameter(torch.zeros(3, device="meta"))  # not on the CPU (a GPU's, say): dense Adam
    assert type(field_optimizer([p], [meta], lr=0.1)) is torch.optim.Adam
