"""The grid field's encoding as native CPU kernels (numba): every level written straight into one
(N, 3 + F) buffer, and a backward that scatters into the levels' gradients.

What torch's reference path (``GridField.encode`` with ``kernel='torch'``: one ``grid_sample`` per
dense level, ``hashgrid.hash_encode`` per hashed level, then a ``cat``) computes, with the same
coordinate rules, including the cube's boundary:
  dense level (C, R, R, R), indexed [c, z, y, x]: u = (p + 1) / 2 * (R - 1) clipped to [0, R - 1]
  (grid_sample's align_corners=True, padding 'border': the clipped side has no gradient), corners
  floor(u) and floor(u) + 1, a corner past the grid contributing nothing;
  hashed level (T, C): u = (clamp(p, -1, 1) + 1) * (R - 1) / 2, clamped to R - 1 - 1e-4 (hashgrid.py).

Forward: one parallel loop over the points per level. Backward: each level's table gradient is
summed by one thread, over the points in order (levels run side by side on a thread pool), so a
gradient is the same bit for bit whatever the thread count; the points' gradient is a parallel
loop over the points, adding the levels in order. Compiled code is cached beside this module (or in
numba's user cache where that is read-only) by ``cache=True``: the first use on a machine compiles
(seconds, once per dtype), later processes load it.
"""

from __future__ import annotations

import contextlib
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from numba import njit, prange

from .hashgrid import PRIMES

HASH_MARGIN = 1e-4  # hashgrid.hash_encode's clamp below res - 1
_REFERENCE = threading.local()


@contextlib.contextmanager
def reference_kernel():
    """Within it, fields encode with the torch path (its double backward: normals with create_graph)."""
    before = getattr(_REFERENCE, "on", False)
    _REFERENCE.on = True
    try:
        yield
    finally:
        _REFERENCE.on = before


def runs_on(points: torch.Tensor) -> bool:
    """The native kernel takes these points: float32 / float64 on the CPU, outside ``reference_kernel()``."""
    return (points.device.type == "cpu" and points.dtype in (torch.float32, torch.float64)
            and not getattr(_REFERENCE, "on", False))


@njit(cache=True, inline="always")
def _dense_axis(coord, q):
    """One axis of a dense level: (lower corner, fraction, du/dp) by grid_sample's border rule, in
    the points' precision (q = [1, 2, R - 1, (R - 1) / 2] in their dtype); the border itself counts
    as outside for the gradient, as in torch's clip_coordinates_set_grad."""
    u = (coord + q[0]) / q[1] * q[2]
    slope = q[3]
    if u <= 0.0:
        u, slope = 0.0 * q[0], 0.0 * q[0]
    elif u >= q[2]:
        u, slope = q[2], 0.0 * q[0]
    i = int(math.floor(u))
    return i, u - i, slope


@njit(cache=True, inline="always")
def _hash_axis(coord, q):
    """One axis of a hashed level: (lower corner, fraction, du/dp) by hashgrid.hash_encode's clamps
    (q = [1, (R - 1) / 2, R - 1 - HASH_MARGIN] in the points' dtype; a clamp passes its bounds'
    gradient, as torch.clamp does)."""
    c, slope = coord, q[1]
    if c < -q[0]:
        c, slope = -q[0], 0.0 * q[0]
    elif c > q[0]:
        c, slope = q[0], 0.0 * q[0]
    u = (c + q[0]) * q[1]
    if u > q[2]:
        u, slope = q[2], 0.0 * q[0]
    i = int(math.floor(u))
    return i, u - i, slope


@njit(cache=True, inline="always")
def _hash_row(i, j, k, mask):
    return ((i * PRIMES[0]) ^ (j * PRIMES[1]) ^ (k * PRIMES[2])) & mask


@njit(cache=True, inline="always")
def _weights(tx, ty, tz, a, b, c):
    """Trilinear weight of corner (a, b, c) and its derivatives by the three fractions."""
    wx = tx if a else 1.0 - tx
    wy = ty if b else 1.0 - ty
    wz = tz if c else 1.0 - tz
    sx = 1.0 if a else -1.0
    sy = 1.0 if b else -1.0
    sz = 1.0 if c else -1.0
    return wx * wy * wz, sx * wy * wz, wx * sy * wz, wx * wy * sz


@njit(cache=True, parallel=True)
def _dense_forward(points, q, grid, out, col):
    """points (N, 3), grid (C, R, R, R) -> out[:, col:col + C] (N, D) trilinear features."""
    n, channels, size = points.shape[0], grid.shape[0], grid.shape[1]
    for p in prange(n):
        i, tx, _ = _dense_axis(points[p, 0], q)
        j, ty, _ = _dense_axis(points[p, 1], q)
        k, tz, _ = _dense_axis(points[p, 2], q)
        for ch in range(channels):
            out[p, col + ch] = 0.0
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            if i + a >= size or j + b >= size or k + c >= size:
                continue
            w = _weights(tx, ty, tz, a, b, c)[0]
            for ch in range(channels):
                out[p, col + ch] += w * grid[ch, k + c, j + b, i + a]


@njit(cache=True, parallel=True)
def _hash_forward(points, q, table, out, col):
    """points (N, 3), table (T, C) -> out[:, col:col + C] (N, D) hashed trilinear features."""
    n, channels, mask = points.shape[0], table.shape[1], table.shape[0] - 1
    for p in prange(n):
        i, tx, _ = _hash_axis(points[p, 0], q)
        j, ty, _ = _hash_axis(points[p, 1], q)
        k, tz, _ = _hash_axis(points[p, 2], q)
        for ch in range(channels):
            out[p, col + ch] = 0.0
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            row = _hash_row(i + a, j + b, k + c, mask)
            w = _weights(tx, ty, tz, a, b, c)[0]
            for ch in range(channels):
                out[p, col + ch] += w * table[row, ch]


@njit(cache=True, nogil=True)
def _dense_backward(points, q, grad_out, col, grad):
    """Scatter grad_out[:, col:col + C] (N, D) into grad (C, R, R, R), the points in order."""
    n, channels, size = points.shape[0], grad.shape[0], grad.shape[1]
    for p in range(n):
        i, tx, _ = _dense_axis(points[p, 0], q)
        j, ty, _ = _dense_axis(points[p, 1], q)
        k, tz, _ = _dense_axis(points[p, 2], q)
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            if i + a >= size or j + b >= size or k + c >= size:
                continue
            w = _weights(tx, ty, tz, a, b, c)[0]
            for ch in range(channels):
                grad[ch, k + c, j + b, i + a] += w * grad_out[p, col + ch]


@njit(cache=True, nogil=True)
def _hash_backward(points, q, grad_out, col, grad):
    """Scatter grad_out[:, col:col + C] (N, D) into grad (T, C), the points in order."""
    n, channels, mask = points.shape[0], grad.shape[1], grad.shape[0] - 1
    for p in range(n):
        i, tx, _ = _hash_axis(points[p, 0], q)
        j, ty, _ = _hash_axis(points[p, 1], q)
        k, tz, _ = _hash_axis(points[p, 2], q)
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            row = _hash_row(i + a, j + b, k + c, mask)
            w = _weights(tx, ty, tz, a, b, c)[0]
            for ch in range(channels):
                grad[row, ch] += w * grad_out[p, col + ch]


@njit(cache=True, parallel=True)
def _dense_point_grad(points, q, grid, grad_out, col, grad_points):
    """grad_points (N, 3) += d(features . grad_out[:, col:col + C]) / dp for one dense level."""
    n, channels, size = points.shape[0], grid.shape[0], grid.shape[1]
    for p in prange(n):
        i, tx, sx = _dense_axis(points[p, 0], q)
        j, ty, sy = _dense_axis(points[p, 1], q)
        k, tz, sz = _dense_axis(points[p, 2], q)
        gx = gy = gz = 0.0
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            if i + a >= size or j + b >= size or k + c >= size:
                continue
            _, dx, dy, dz = _weights(tx, ty, tz, a, b, c)
            v = 0.0
            for ch in range(channels):
                v += grid[ch, k + c, j + b, i + a] * grad_out[p, col + ch]
            gx += v * dx
            gy += v * dy
            gz += v * dz
        grad_points[p, 0] += gx * sx
        grad_points[p, 1] += gy * sy
        grad_points[p, 2] += gz * sz


@njit(cache=True, parallel=True)
def _hash_point_grad(points, q, table, grad_out, col, grad_points):
    """grad_points (N, 3) += d(features . grad_out[:, col:col + C]) / dp for one hashed level."""
    n, channels, mask = points.shape[0], table.shape[1], table.shape[0] - 1
    for p in prange(n):
        i, tx, sx = _hash_axis(points[p, 0], q)
        j, ty, sy = _hash_axis(points[p, 1], q)
        k, tz, sz = _hash_axis(points[p, 2], q)
        gx = gy = gz = 0.0
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            row = _hash_row(i + a, j + b, k + c, mask)
            _, dx, dy, dz = _weights(tx, ty, tz, a, b, c)
            v = 0.0
            for ch in range(channels):
                v += table[row, ch] * grad_out[p, col + ch]
            gx += v * dx
            gy += v * dy
            gz += v * dz
        grad_points[p, 0] += gx * sx
        grad_points[p, 1] += gy * sy
        grad_points[p, 2] += gz * sz


class Levels:
    """The encoding's levels: dense grids (1, C, R, R, R), then hashed tables (T, C) with their
    lattice resolutions; ``active`` of them (coarse to fine) are evaluated, the others give 0."""

    def __init__(self, params: tuple[torch.Tensor, ...], n_dense: int, hash_resolutions: list[int], active: int):
        self.n_dense, self.active = n_dense, active
        widths = [p.shape[1] for p in params]  # C of a (1, C, R, R, R) grid and of a (T, C) table
        self.columns = [3 + sum(widths[:level]) for level in range(len(widths) + 1)]
        self.resolutions = [p.shape[-1] for p in params[:n_dense]] + list(hash_resolutions)

    def constants(self, level: int, dtype: torch.dtype) -> np.ndarray:
        """The level's coordinate constants in the points' dtype (the kernels' ``q``)."""
        r = self.resolutions[level]
        values = [1.0, 2.0, r - 1, 0.5 * (r - 1)] if level < self.n_dense else [1.0, 0.5 * (r - 1), r - 1 - HASH_MARGIN]
        return torch.tensor(values, dtype=dtype).numpy()

    def forward(self, level: int, points: np.ndarray, q: np.ndarray, param: np.ndarray, out: np.ndarray) -> None:
        dense = level < self.n_dense
        (_dense_forward if dense else _hash_forward)(points, q, param[0] if dense else param, out, self.columns[level])

    def backward(self, level: int, points: np.ndarray, q: np.ndarray, grad_out: np.ndarray, grad: np.ndarray) -> None:
        dense = level < self.n_dense
        (_dense_backward if dense else _hash_backward)(points, q, grad_out, self.columns[level],
                                                       grad[0] if dense else grad)

    def point_grad(self, level: int, points: np.ndarray, q: np.ndarray, param: np.ndarray, grad_out: np.ndarray,
                   grad_points: np.ndarray) -> None:
        dense = level < self.n_dense
        (_dense_point_grad if dense else _hash_point_grad)(points, q, param[0] if dense else param, grad_out,
                                                           self.columns[level], grad_points)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def _threads() -> int:
    """numba's thread count: torch's (the process's setting), within numba's pool."""
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    return threads


class _Encode(torch.autograd.Function):
    @staticmethod
    def forward(ctx, points, levels: Levels, *params):
        points = points.contiguous()
        out = points.new_empty(points.shape[0], levels.columns[-1])
        out[:, :3] = points
        out[:, levels.columns[levels.active]:] = 0.0
        _threads()
        p, o = _np(points), _np(out)
        for level in range(levels.active):
            levels.forward(level, p, levels.constants(level, points.dtype), _np(params[level]), o)
        ctx.levels = levels
        ctx.save_for_backward(points, *params)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        points, *params = ctx.saved_tensors
        levels = ctx.levels
        g, p = _np(grad_out), _np(points)
        grads = [None] * len(params)

        def level_grad(level: int) -> torch.Tensor:
            grad = torch.zeros_like(params[level])
            levels.backward(level, p, levels.constants(level, points.dtype), g, grad.numpy())
            return grad

        wanted = [level for level in range(levels.active) if ctx.needs_input_grad[2 + level]]
        threads = _threads()
        if threads > 1 and len(wanted) > 1:  # one level per thread: each summed in point order
            with ThreadPoolExecutor(threads) as pool:
                for level, grad in zip(wanted, pool.map(level_grad, wanted)):
                    grads[level] = grad
        else:
            for level in wanted:
                grads[level] = level_grad(level)
        grad_points = None
        if ctx.needs_input_grad[0]:
            grad_points = grad_out[:, :3].contiguous().clone()
            for level in range(levels.active):
                levels.point_grad(level, p, levels.constants(level, points.dtype), _np(params[level]), g,
                                  grad_points.numpy())
        return (grad_points, None, *grads)


def fused_encode(points: torch.Tensor, grids, tables, hash_resolutions, active: int) -> torch.Tensor:
    """points: (N, 3) CPU -> (N, 3 + sum of channels) encoding [p, level features...] (0 for the
    levels from ``active`` on); grids: dense (1, C, R, R, R) parameters, tables: hashed (T, C).
    Differentiable to the points and every level (once: no double backward)."""
    params = (*grids, *tables)
    return _Encode.apply(points, Levels(params, len(grids), hash_resolutions, active), *params)
