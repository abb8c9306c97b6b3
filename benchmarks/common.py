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
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": gpu,
        "python": platform.python_version(),
    }


def machine_title(info: dict) -> str:
    """One line naming the machine, for table titles."""
    return f"{info['cpu']} ({info['cores']} cores, torch threads {info['torch_threads']})" + (
        f", GPU {info['gpu']}" if info["gpu"] else ""
    )


def write_json(path: Path, data: dict) -> Path:
    """Write ``data`` as indented strict JSON, nan as null (parent folders created); returns ``path``."""
    from dvr_cli.evaluate.report import json_safe

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(data, nan=None), indent=2))
    return path


def field_quality(
    model,
    normalization,
    test_views,
    gt_mesh,
    mesh_resolution: int = 128,
    points: int = 20000,
    eval_samples: int = 128,
) -> dict:
    """Chamfer-L1 (% of the GT diagonal; nan without a surface) of the model's surface (MISE at
    ``mesh_resolution``, small components dropped) against ``gt_mesh`` (verts, faces), and the mean
    masked PSNR, PSNR, SSIM and IoU of its renders (``render_camera``, ``eval_samples`` marching samples)
    of ``test_views`` (world cameras). Leaves the field in train mode."""
    import numpy as np
    import torch

    from dvr_cli.evaluate.geometry import mesh_distances
    from dvr_cli.evaluate.report import view_metrics
    from dvr_cli.mesh.clean import keep_large_components
    from dvr_cli.mesh.mise import extract_surface

    field, cfg = model.field, model.cfg
    field.eval()
    device = next(field.parameters()).device
    with torch.no_grad():
        verts, faces, _ = extract_surface(
            field.occupancy_logits, resolution=mesh_resolution, start=32, tau=cfg.rendering.tau, device=device
        )
    chamfer = float("nan")
    if len(faces):
        verts, faces = keep_large_components(verts, faces)
        chamfer = mesh_distances((normalization.to_world(verts), faces), gt_mesh, n_points=points)["chamfer_l1_pct"]
    views = [
        view_metrics(model.render_camera(normalization.camera_to_unit(v.camera), eval_samples), v) for v in test_views
    ]
    field.train()
    return {
        "chamfer_pct": chamfer,
        **{k: float(np.mean([v[k] for v in views])) for k in ("masked_psnr", "psnr", "ssim", "iou")},
    }
