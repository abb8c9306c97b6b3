"""Data-parallel fitting of one scene over several processes or GPUs (torch.distributed).

Launched by ``torchrun --nproc-per-node N`` over ``dvr fit`` (or ``dvr fit --nproc N``, which
runs torch.distributed.run itself), every rank runs the same fit: the same field initialisation
and the same global random stream (so the occupancy-grid refresh, which reads only the field
and that stream, is identical everywhere), and its own ray stream (seed + rank) from which it
draws its share n_r of each step's ``rays_per_step`` = R rays. The losses are sums over rays
divided by the ray count (model/losses.py), so with the gradients summed over ranks, each
weighted by n_r / R, an Adam step equals one process stepping on the union of the ranks' rays.
Rank 0 alone writes the run folder and decides when to checkpoint and when to stop.

Backends: ``gloo`` on CPU, ``nccl`` on CUDA (rank r on GPU LOCAL_RANK). Every function here is
a no-op, or the single-process answer, when no process group runs: a plain ``dvr fit`` is
unchanged.
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Callable, Iterable

import torch
from torch import distributed as dist

from ..errors import DvrError
from ..runtime import resolve_device

#: Seconds a rank waits for the others at a collective before failing (a dead peer, not a slow step).
TIMEOUT_S = 600


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def active() -> bool:
    """A process group of more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank: from the process group, else torchrun's RANK (0 without it)."""
    return dist.get_rank() if active() else _env_int("RANK", 0)


def world_size() -> int:
    return dist.get_world_size() if active() else _env_int("WORLD_SIZE", 1)


def _device() -> torch.device:
    """Where collectives' small tensors live: this rank's GPU under nccl, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def is_writer() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process."""
    return rank() == 0


def init_from_env(device: str = "auto") -> bool:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1).

    Picks ``nccl`` with rank r on GPU LOCAL_RANK for a CUDA ``device``, else ``gloo``, and gives
    each local rank an equal share of the cores for torch's threads. Returns whether a group
    runs; without torchrun's variables (or WORLD_SIZE 1) does nothing and returns False.
    """
    if _env_int("WORLD_SIZE", 1) <= 1:
        return False
    if active():
        return True
    on_gpu = resolve_device(device).type == "cuda"
    if on_gpu:
        torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
    # torch 2.13: a group started before torch._dynamo's configuration is imported (Adam's first
    # step imports it) outlives destroy_process_group, and its worker threads then outlive the
    # interpreter: one releasing a tensor during shutdown aborts the rank (SIGABRT, "terminate
    # called without an active exception"), in about 1 test run in 6 on 2 cores. Imported first, the group's
    # threads end with it. (importlib: an ``import torch._dynamo`` statement would make ``torch`` a
    # local name of this function, unbound on the CUDA line above.)
    importlib.import_module("torch._dynamo")
    dist.init_process_group("nccl" if on_gpu else "gloo", timeout=timedelta(seconds=TIMEOUT_S))
    atexit.register(leave)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, cores // _env_int("LOCAL_WORLD_SIZE", 1)))
    return True


def leave() -> None:
    """Destroy the process group (joining its threads) if one runs; registered at exit by
    :func:`init_from_env`, so a rank never reaches interpreter shutdown with the group alive."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def ray_share(n_rays: int) -> int:
    """Rays this rank draws of a step's ``n_rays``: n // W, plus one for the first n % W ranks."""
    n, extra = divmod(int(n_rays), world_size())
    return n + (rank() < extra)


def sampler_seed(seed: int) -> int:
    """Seed of this rank's ray stream: ``seed + rank`` (rank 0's is the single-process fit's)."""
    return int(seed) + rank()


def broadcast_module(module: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers into every rank's ``module`` (in place)."""
    if active():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def average_gradients(parameters: Iterable[torch.nn.Parameter], share: float) -> None:
    """grad <- sum_r share_r * grad_r over the ranks, in place, with ``share`` = n_r / R this
    rank's share of the step's rays (1 / W each when the rays split evenly).

    A parameter without a gradient on some ranks (no ray reached it there) takes zeros there; one
    without a gradient on every rank keeps None, so Adam skips it as a single process would.
    All gradients travel in one flat buffer: one all-reduce per step.
    """
    if not active():
        return
    params = [p for p in parameters if p.requires_grad]
    if not params:
        return
    device = params[0].device
    has_grad = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=device)
    dist.all_reduce(has_grad, op=dist.ReduceOp.MAX)
    synced = [p for p, h in zip(params, has_grad.tolist()) if h]
    for p in synced:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    if not synced:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in synced]) * share
    dist.all_reduce(flat)
    offset = 0
    for p in synced:
        p.grad.copy_(flat[offset : offset + p.numel()].view_as(p.grad))
        offset += p.numel()


def from_rank0(*values: float | bool) -> tuple:
    """Rank 0's ``values`` on every rank, each of its own type (float or bool).

    For what each rank measures with its own clock (seconds fitted, a checkpoint or a Ctrl-C due):
    with rank 0's values every rank schedules the step alike and takes the same branch, so no
    collective waits for a rank that has left the loop.
    """
    if not active():
        return values
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_device())
    dist.broadcast(tensor, src=0)
    return tuple(type(v)(x) for v, x in zip(values, tensor.tolist()))


def rank0_only(fn: Callable, *args):
    """``fn(*args)`` on rank 0 alone (a file write), the other ranks waiting until it is done; its
    result on rank 0, None elsewhere. When it raises on rank 0, the others raise a DvrError too
    instead of waiting at the next collective."""
    if not active():
        return fn(*args)
    result, error = None, None
    if rank() == 0:
        try:
            result = fn(*args)
        except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the other ranks
            error = exc
    (failed,) = from_rank0(error is not None)
    if error is not None:
        raise error
    if failed:
        raise DvrError(f"rank 0 failed in {getattr(fn, '__name__', 'a write')} (its message says why)")
    return result


def gather_rng(rng: dict) -> dict:
    """A checkpoint's RNG entry with every rank's ray-stream state under "ranks" (collective).

    ``rng`` is ``checkpoint.capture_rng``'s dict on this rank; the global streams are the same on
    every rank, so rank 0's stand for all.
    """
    if not active():
        return rng
    states: list = [None] * world_size()
    dist.all_gather_object(states, rng["sampler"])
    return {**rng, "ranks": states}


def own_rng(rng: dict, source=None) -> dict:
    """The RNG entry of a checkpoint with this rank's ray-stream state as "sampler".

    DvrError (naming ``source``) when the checkpoint was written by another number of processes:
    the ray streams could not continue as they were.
    """
    saved = len(rng["ranks"]) if "ranks" in rng else 1
    if saved != world_size():
        raise DvrError(
            f"the checkpoint was written by a fit over {saved} process(es): resume it with --nproc {saved}", source
        )
    return {**rng, "sampler": rng["ranks"][rank()]} if "ranks" in rng else rng


def launch(nproc: int, args: list[str]) -> int:
    """Run ``dvr ARGS`` as ``nproc`` ranks on this machine with torch.distributed.run; its exit code.

    ``--standalone`` picks a free rendezvous port, so several launches can run side by side. This
    process ignores Ctrl-C while they run: the terminal's SIGINT reaches the ranks themselves, which
    stop together and save.
    """
    if nproc < 1:
        raise DvrError(f"--nproc must be at least 1 (got {nproc})")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "dvr_cli.cli",
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.Popen(command, env=env).wait()
    finally:
        signal.signal(signal.SIGINT, previous)
