"""Process-level set-up: allocator tuning, torch threads, device choice, open3d import.

Call :func:`setup_process` once at start-up (the CLI does); library functions never change
global state on their own.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache

import torch

from .errors import DvrError

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4


def tune_malloc() -> bool:
    """Stop glibc from returning memory to the OS after every large torch free.

    Measured here: torch on CPU page-faults heavily with the default thresholds; keeping freed
    pages (no mmap for large blocks, large trim threshold and top pad) gave 1.7-1.9x on field
    forward+backward. Returns False where glibc is absent (macOS, musl).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    big = 1 << 30
    return bool(libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, big) and libc.mallopt(_M_TOP_PAD, big))


def setup_process(threads: int | None = None) -> None:
    """Tune malloc and use every available core for torch's intra-op pool."""
    tune_malloc()
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, int(threads or 1)))


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto|cpu|cuda[:i]`` to a torch device; ``auto`` takes CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DvrError(f"--device {name} requested but no CUDA device is available (use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise DvrError(f"--device {name}: not a device name ({exc})") from None


@lru_cache(maxsize=1)
def open3d():
    """Import open3d, first loading the libusb that the ``libusb-package`` wheel ships.

    open3d links against ``libusb-1.0.so.0``, which a fresh machine may lack; loading the
    wheel's copy globally satisfies the link without a system package.
    """
    try:
        import libusb_package

        path = libusb_package.get_library_path()
        if path is not None:
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    except (ImportError, OSError):
        pass
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d
