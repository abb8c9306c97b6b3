"""Adam that updates only the grid entries a step touched (tiny-cuda-nn's sparse update).

A step's rays touch a small share of the grids' and hash tables' entries; the rest get a gradient
of exactly 0. torch's Adam still reads and writes every entry (its moments decay, its parameter
moves by the old momentum); here an entry whose gradient is 0 is left as it is, moments included:
    g != 0:  m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
             p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)     (t: the parameter's steps)
which is torch's Adam on those entries, and reads the gradient alone elsewhere. The other
parameters (the MLP) take torch's fused Adam. The state has Adam's layout (step, exp_avg,
exp_avg_sq per parameter), each group says whether it is ``lazy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from numba import njit

from ..settings import Settings, boolean, number_in, setting
from .fused import parallel_map, row_chunks


@njit(cache=True, nogil=True)
def _lazy_adam(p, g, m, v, step_size, b1, b2, eps, bias2_sqrt):
    """One Adam step on the entries of flat p, m, v whose gradient g is not 0."""
    for i in range(p.shape[0]):
        gi = g[i]
        if gi != 0.0:
            m[i] = b1 * m[i] + (1.0 - b1) * gi
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi
            p[i] -= step_size * m[i] / (math.sqrt(v[i]) / bias2_sqrt + eps)


def _flat(t: torch.Tensor) -> np.ndarray:
    """The storage of a dense tensor (any dense layout) as 1-D: tensors of one layout line up entry by entry."""
    return t.detach().as_strided((t.numel(),), (1,)).numpy()


class LazyAdam(torch.optim.Adam):
    """torch's Adam (fused) on the ordinary groups, the update above on the groups with ``lazy=True``
    (CPU parameters with a dense gradient, every tensor of a parameter in one dense layout)."""

    @torch.no_grad()
    def step(self, closure=None):
        groups = self.param_groups
        try:
            self.param_groups = [group for group in groups if not group.get("lazy")]
            super().step(closure)
        finally:
            self.param_groups = groups
        for group in (group for group in groups if group.get("lazy")):
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = float(state["step"])
                grad = p.grad if p.grad.stride() == p.stride() else p.grad.contiguous(memory_format=_layout(p))
                arrays = [_flat(x) for x in (p, grad, state["exp_avg"], state["exp_avg_sq"])]
                step_size = group["lr"] / (1.0 - b1**t)
                bias2_sqrt = math.sqrt(1.0 - b2**t)

                def chunk(rows: slice, arrays=arrays, step_size=step_size, bias2_sqrt=bias2_sqrt) -> None:
                    _lazy_adam(*(a[rows] for a in arrays), step_size, b1, b2, group["eps"], bias2_sqrt)

                parallel_map(chunk, row_chunks(p.numel()))


def _layout(p: torch.Tensor) -> torch.memory_format:
    return (
        torch.channels_last_3d
        if p.dim() == 5 and p.is_contiguous(memory_format=torch.channels_last_3d)
        else torch.contiguous_format
    )


def field_optimizer(parameters: list, lazy: list, lr: float) -> torch.optim.Optimizer:
    """Adam over ``parameters``; those also in ``lazy`` (the grids of a field on the native kernel)
    in a lazy group where they are on the CPU. Without lazy parameters: torch's fused Adam, one
    group (as before; on a GPU too)."""
    lazy_ids = {id(p) for p in lazy if p.device.type == "cpu"}
    if not lazy_ids:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    one = np.ones(1, np.float32)
    _lazy_adam(one, one, one.copy(), one.copy(), 0.0, 0.9, 0.999, 1e-8, 1.0)  # compile (or load) it now
    dense = [p for p in parameters if id(p) not in lazy_ids]
    return LazyAdam(
        [{"params": dense}, {"params": [p for p in parameters if id(p) in lazy_ids], "lazy": True}], lr=lr, fused=True
    )


@dataclass
class OptimizerConfig(Settings):
    """Adam's learning rate, its decay over the plan, and whether the grids take the lazy update
    (flat alias ``sparse_adam``)."""

    _target: ClassVar = staticmethod(field_optimizer)
    FLAT: ClassVar[dict[str, str]] = {"lazy": "sparse_adam"}

    lr: float = setting(1e-2, check=number_in(0, open_low=True), want="a number > 0")
    # exponential decay to lr * ratio at the end of the plan
    lr_final_ratio: float = setting(0.1, check=number_in(0, 1, open_low=True), want="a number in (0, 1]")
    # with the native kernel, Adam updates only the grid entries an iteration touched
    lazy: bool = setting(True, check=boolean, want="true or false")

    def setup(self, parameters: list, lazy: list) -> torch.optim.Optimizer:
        """Adam over ``parameters``, those in ``lazy`` (``Field.lazy_parameters()``) lazily when ``self.lazy``."""
        return self._target(parameters, lazy if self.lazy else [], self.lr)

    def learning_rate(self, fraction: float) -> float:
        """``lr`` decayed exponentially to ``lr * lr_final_ratio`` at the end of the plan."""
        return self.lr * self.lr_final_ratio**fraction
