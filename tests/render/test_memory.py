"""Autograd memory of render_rays does not depend on the number of marching samples.

Method: every tensor autograd saves for backward passes through ``saved_tensors_hooks``; we sum
the bytes of the distinct storages saved during the forward pass (parameters included once).
Marching runs under no_grad and the implicit depth keeps only what one field call at the hit
rays' surface points saves (plus rays and parameters): the total depends on how many rays hit,
not on the steps. Coarse and fine marching of a random field disagree on a few rays' hits, so
the test compares over the rays whose hit flags agree.
"""

import torch

from dvr_cli.fields import GridField
from dvr_cli.render import camera_rays, render_rays
from dvr_cli.render.march import find_surface
from render_scenes import ring_cameras


def _saved_bytes(field, origins, dirs, n_samples: int) -> int:
    # Keyed by address, and each storage is held until the count is taken: a storage freed during
    # the forward pass would otherwise let a later one reuse its address and go uncounted (the
    # count then varied from run to run).
    storages: dict[int, object] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = render_rays(field, origins, dirs, n_samples)
        loss = out["rgb"].sum() + out["depth"].sum()
    field.zero_grad(set_to_none=True)
    loss.backward()
    assert field.head.weight.grad is not None
    return sum(storage.nbytes() for storage in storages.values())


def test_saved_memory_independent_of_steps():
    torch.manual_seed(0)
    field = GridField(resolutions=[8, 16], features=2, hidden=16)
    origins, dirs = camera_rays(ring_cameras(1, size=40)[0])
    with torch.no_grad():
        hit16, hit256 = (find_surface(field.occupancy_logits, origins, dirs, n).hit for n in (16, 256))
    agree = hit16 == hit256
    assert agree.float().mean() > 0.9 and hit16[agree].any()
    origins, dirs = origins[agree], dirs[agree]
    few, many = (_saved_bytes(field, origins, dirs, n) for n in (16, 256))
    assert few > 0
    assert abs(many - few) <= 0.1 * few, f"saved bytes {few} (16 steps) vs {many} (256 steps)"
    # And far below what storing the marching would take: 256 steps x rays x (3 coords + 1 logit) floats.
    assert many < 0.1 * origins.shape[0] * 256 * 4 * 4
