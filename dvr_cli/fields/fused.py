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

import numpy as np
import torch
from numba import njit
from torch.autograd.graph import get_gradient_edge

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
    return (
        points.device.type == "cpu"
        and points.dtype in (torch.float32, torch.float64)
        and not getattr(_REFERENCE, "on", False)
    )


@njit(cache=True, inline="always")
def _dense_axis(coord, q):
    """One axis of a dense level: (lower corner, fraction, du/dp) by grid_sample's border rule, in
    the points' precision (q = [1, 2, R - 1, (R - 1) / 2] in their dtype); the border itself counts
    as outside for the gradient, as in torch's clip_coordinates_set_grad. The lower corner stops at
    R - 2 (fraction 1 on the last face: the value grid_sample gives with its corner past the grid)."""
    u = (coord + q[0]) / q[1] * q[2]
    slope = q[3]
    if u <= 0.0:
        u, slope = 0.0 * q[0], 0.0 * q[0]
    elif u >= q[2]:
        u, slope = q[2], 0.0 * q[0]
    i = min(int(math.floor(u)), int(q[2]) - 1)
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


@njit(cache=True, inline="always")
def _dense_base(points, p, q, size, channels):
    """The flat index of point p's lower corner in an (R, R, R, C) grid, its fractions and du/dp."""
    i, tx, sx = _dense_axis(points[p, 0], q)
    j, ty, sy = _dense_axis(points[p, 1], q)
    k, tz, sz = _dense_axis(points[p, 2], q)
    return ((k * size + j) * size + i) * channels, tx, ty, tz, sx, sy, sz


@njit(cache=True, nogil=True)
def _dense_forward(points, q, grid, size, out, col):
    """points (N, 3), grid (R^3 C,) flat [z, y, x, c] -> out[:, col:col + C] (N, D) trilinear features."""
    n, channels = points.shape[0], grid.shape[0] // (size * size * size)
    for p in range(n):
        base, tx, ty, tz, _, _, _ = _dense_base(points, p, q, size, channels)
        for ch in range(channels):
            out[p, col + ch] = 0.0
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            w = _weights(tx, ty, tz, a, b, c)[0]
            at = base + ((c * size + b) * size + a) * channels
            for ch in range(channels):
                out[p, col + ch] += w * grid[at + ch]


@njit(cache=True, nogil=True)
def _hash_forward(points, q, table, out, col):
    """points (N, 3), table (T, C) -> out[:, col:col + C] (N, D) hashed trilinear features."""
    n, channels, mask = points.shape[0], table.shape[1], table.shape[0] - 1
    for p in range(n):
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
def _dense_backward(points, q, grad_out, col, grad, size):
    """Scatter grad_out[:, col:col + C] (N, D) into grad (R^3 C,) flat [z, y, x, c], the points in order."""
    n, channels = points.shape[0], grad.shape[0] // (size * size * size)
    for p in range(n):
        base, tx, ty, tz, _, _, _ = _dense_base(points, p, q, size, channels)
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            w = _weights(tx, ty, tz, a, b, c)[0]
            at = base + ((c * size + b) * size + a) * channels
            for ch in range(channels):
                grad[at + ch] += w * grad_out[p, col + ch]


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


@njit(cache=True, nogil=True)
def _dense_point_grad(points, q, grid, size, grad_out, col, grad_points):
    """grad_points (N, 3) += d(features . grad_out[:, col:col + C]) / dp for one dense level (grid flat)."""
    n, channels = points.shape[0], grid.shape[0] // (size * size * size)
    for p in range(n):
        base, tx, ty, tz, sx, sy, sz = _dense_base(points, p, q, size, channels)
        gx = gy = gz = 0.0
        for corner in range(8):
            a, b, c = (corner >> 2) & 1, (corner >> 1) & 1, corner & 1
            _, dx, dy, dz = _weights(tx, ty, tz, a, b, c)
            at = base + ((c * size + b) * size + a) * channels
            v = 0.0
            for ch in range(channels):
                v += grid[at + ch] * grad_out[p, col + ch]
            gx += v * dx
            gy += v * dy
            gz += v * dz
        grad_points[p, 0] += gx * sx
        grad_points[p, 1] += gy * sy
        grad_points[p, 2] += gz * sz


@njit(cache=True, nogil=True)
def _hash_point_grad(points, q, table, grad_out, col, grad_points):
    """grad_points (N, 3) += d(features . grad_out[:, col:col + C]) / dp for one hashed level."""
    n, channels, mask = points.shape[0], table.shape[1], table.shape[0] - 1
    for p in range(n):
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

    def table(self, level: int, t: torch.Tensor) -> np.ndarray:
        """A level's parameter (or its gradient) as the kernels read it: a dense (1, C, R, R, R) grid
        flat in [z, y, x, c] order (a view of a channels_last_3d tensor), a (T, C) table as is."""
        t = t.detach()
        return (t[0].permute(1, 2, 3, 0).contiguous().view(-1) if level < self.n_dense else t.contiguous()).numpy()

    def new_grad(self, level: int, param: torch.Tensor) -> torch.Tensor:
        """A zero gradient for the level's parameter, laid out as ``table`` reads it without a copy."""
        layout = torch.channels_last_3d if level < self.n_dense else torch.contiguous_format
        return torch.zeros_like(param, memory_format=layout)

    def forward(self, level: int, points: np.ndarray, q: np.ndarray, table: np.ndarray, out: np.ndarray) -> None:
        """out[:, level's columns] (N, D) = the level's features at points (N, 3)."""
        if level < self.n_dense:
            _dense_forward(points, q, table, self.resolutions[level], out, self.columns[level])
        else:
            _hash_forward(points, q, table, out, self.columns[level])

    def backward(self, level: int, points: np.ndarray, q: np.ndarray, grad_out: np.ndarray, grad: np.ndarray) -> None:
        """grad (the level's ``table`` form) += the scatter of grad_out's level columns, the points in order."""
        if level < self.n_dense:
            _dense_backward(points, q, grad_out, self.columns[level], grad, self.resolutions[level])
        else:
            _hash_backward(points, q, grad_out, self.columns[level], grad)

    def point_grad(
        self,
        level: int,
        points: np.ndarray,
        q: np.ndarray,
        table: np.ndarray,
        grad_out: np.ndarray,
        grad_points: np.ndarray,
    ) -> None:
        """grad_points (N, 3) += the level's features' gradient to the points, against grad_out."""
        if level < self.n_dense:
            _dense_point_grad(points, q, table, self.resolutions[level], grad_out, self.columns[level], grad_points)
        else:
            _hash_point_grad(points, q, table, grad_out, self.columns[level], grad_points)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


_POOL: dict[int, ThreadPoolExecutor] = {}


def parallel_map(task, items: list) -> list:
    """[task(item) for item in items], on torch's thread count (a pool of that many threads kept for
    the process; the kernels release the GIL)."""
    threads = torch.get_num_threads()
    if threads == 1 or len(items) == 1:
        return [task(item) for item in items]
    if threads not in _POOL:
        _POOL[threads] = ThreadPoolExecutor(threads, thread_name_prefix="dvr-encoding")
    return list(_POOL[threads].map(task, items))


def row_chunks(n: int) -> list[slice]:
    """Point ranges for the thread pool: a few per thread, so a thread held up by the load does not
    hold up the rest."""
    parts = max(1, min(4 * torch.get_num_threads(), n // 1024))
    bounds = [n * k // parts for k in range(parts + 1)]
    return [slice(bounds[k], bounds[k + 1]) for k in range(parts)]


def _wanted(param: torch.Tensor) -> bool:
    """This backward pass reaches ``param``'s gradient (False under autograd.grad to the points alone,
    as the marcher's surface slope asks: no table-sized buffer is filled then)."""
    try:
        return torch._C._will_engine_execute_node(get_gradient_edge(param).node)
    except (AttributeError, RuntimeError):  # an API torch may move: compute the gradient anyway
        return True


class _Encode(torch.autograd.Function):
    @staticmethod
    def forward(ctx, points, levels: Levels, *params):
        points = points.contiguous()
        out = points.new_empty(points.shape[0], levels.columns[-1])
        out[:, :3] = points
        out[:, levels.columns[levels.active] :] = 0.0
        p, o = _np(points), _np(out)
        active = range(levels.active)
        tables = [levels.table(level, params[level]) for level in active]
        qs = [levels.constants(level, points.dtype) for level in active]

        def chunk(rows: slice) -> None:
            for level in active:
                levels.forward(level, p[rows], qs[level], tables[level], o[rows])

        parallel_map(chunk, row_chunks(len(p)))
        ctx.levels = levels
        ctx.save_for_backward(points, *params)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        points, *params = ctx.saved_tensors
        levels = ctx.levels
        g, p = _np(grad_out), _np(points)
        active = range(levels.active)
        qs = [levels.constants(level, points.dtype) for level in active]
        grads = [None] * len(params)

        def level_grad(level: int) -> torch.Tensor:
            grad = levels.new_grad(level, params[level])
            levels.backward(level, p, qs[level], g, levels.table(level, grad))
            return grad

        wanted = [level for level in active if ctx.needs_input_grad[2 + level] and _wanted(params[level])]
        for level, grad in zip(wanted, parallel_map(level_grad, wanted)):  # a level per task: summed in point order
            grads[level] = grad
        grad_points = None
        if ctx.needs_input_grad[0]:
            grad_points = grad_out[:, :3].contiguous().clone()
            gp = grad_points.numpy()
            tables = [levels.table(level, params[level]) for level in active]

            def chunk(rows: slice) -> None:
                for level in active:  # the levels in order: the same sum whatever the chunks
                    levels.point_grad(level, p[rows], qs[level], tables[level], g[rows], gp[rows])

            parallel_map(chunk, row_chunks(len(p)))
        return (grad_points, None, *grads)


def warm_up() -> None:
    """Compile (or load from numba's cache) the float32 kernels now, outside a fit's time plan (and
    whatever the caller's grad mode: a field is also built under ``torch.no_grad()``)."""
    params = (torch.zeros(1, 1, 2, 2, 2, requires_grad=True), torch.zeros(4, 1, requires_grad=True))
    points = torch.zeros(2, 3, requires_grad=True)
    with torch.enable_grad():
        fused_encode(points, params[:1], params[1:], [2], 2).sum().backward()


def fused_encode(points: torch.Tensor, grids, tables, hash_resolutions, active: int) -> torch.Tensor:
    """points: (N, 3) CPU -> (N, 3 + sum of channels) encoding [p, level features...] (0 for the
    levels from ``active`` on); grids: dense (1, C, R, R, R) parameters, tables: hashed (T, C).
    Differentiable to the points and every level (once: no double backward)."""
    params = (*grids, *tables)
    return _Encode.apply(points, Levels(params, len(grids), hash_resolutions, active), *params)
