"""Checkpoints: everything a fit needs to continue bit-for-bit, written atomically.

A checkpoint is a ``torch.save`` dict with the keys in :data:`KEYS`. Every value is a tensor,
number, string, list, tuple or dict, so loading uses ``weights_only=True`` (no pickled code).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..config import FitConfig, migrate
from ..errors import DvrError
from ..files import atomic_path

KEYS = ("iteration", "elapsed", "field", "optimizer", "rng", "occ_grid", "config")

# Config fields that change how long or where a fit runs, not what it computes: a resumed fit
# may differ in these (e.g. more minutes, another device; a time-planned fit then stretches its
# schedule over the new budget).
RESUME_FREE_KEYS = frozenset({"minutes", "device", "checkpoint_every_s", "preview_every_s"})


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a temp file in the same folder, fsync'ed, then os.replace.

    A crash or error mid-write leaves the previous checkpoint in place; a write that fails (disk
    full, read-only folder) raises DvrError saying so.
    """
    missing = [k for k in KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, fsync=True) as tmp:  # on disk before the rename: a power cut keeps one whole file
            torch.save(state, tmp)
    except (OSError, RuntimeError) as exc:  # disk full, read-only folder (torch wraps some as RuntimeError)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
        raise DvrError(f"cannot write the checkpoint ({reason}); the previous checkpoint is kept", path) from None


def load_checkpoint(path: Path, config: FitConfig | None = None) -> dict:
    """Read a checkpoint (tensors on CPU); with ``config``, check it is the run's config.

    Raises DvrError for a missing, unreadable or incomplete file, or a config that differs
    from the saved one in anything but :data:`RESUME_FREE_KEYS`.
    """
    path = Path(path)
    if not path.is_file():
        raise DvrError("no checkpoint here (was the fit started?)", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        raise DvrError(f"corrupt checkpoint ({type(exc).__name__}); delete it to start over", path) from None
    if not isinstance(state, dict) or any(k not in state for k in KEYS):
        raise DvrError("corrupt checkpoint (missing entries); delete it to start over", path)
    if config is not None:
        saved = FitConfig.from_json(migrate(json.loads(state["config"]), path), path)
        diff = config_differences(saved.flat(), config.flat())
        if diff:
            raise DvrError(f"config differs from the checkpoint's in {diff}; resume with the same settings", path)
    return state


def config_differences(saved: dict, current: dict) -> list[str]:
    """Flat names of the settings that differ, ignoring :data:`RESUME_FREE_KEYS`."""
    keys = (set(saved) | set(current)) - RESUME_FREE_KEYS
    return sorted(k for k in keys if saved.get(k) != current.get(k))


def capture_rng(generator: torch.Generator) -> dict:
    """States of the sampler's generator, torch's global (CPU and CUDA) and numpy's global RNG."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "sampler": generator.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generator: torch.Generator) -> None:
    """Inverse of :func:`capture_rng`."""
    generator.set_state(state["sampler"])
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached"],
        )
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
