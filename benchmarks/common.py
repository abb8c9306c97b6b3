"""Helpers the benchmark scripts share: what machine ran them, and writing their JSON."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> dict:
    """CPU model, cores, torch threads and GPU of this machine."""
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "gpu": gpu, "python": platform.python_version()}


def machine_title(info: dict) -> str:
    """One line naming the machine, for table titles."""
    return (f"{info['cpu']} ({info['cores']} cores, torch threads {info['torch_threads']})"
            + (f", GPU {info['gpu']}" if info["gpu"] else ""))


def write_json(path: Path, data: dict) -> Path:
    """Write ``data`` as indented strict JSON, nan as null (parent folders created); returns ``path``."""
    from dvr_cli.evaluate.report import json_safe

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(data, nan=None), indent=2))
    return path
