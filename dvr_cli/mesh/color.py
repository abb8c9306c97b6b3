"""Colours of the fitted texture field at points of the unit frame."""

from __future__ import annotations

import numpy as np
import torch

from ..fields.base import Field


def field_device(field: Field) -> torch.device:
    """The device of the field's first parameter or buffer (CPU for a field with neither)."""
    for tensor in (*field.parameters(), *field.buffers()):
        return tensor.device
    return torch.device("cpu")


def field_colors(field: Field, points: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """points (N, 3) unit frame -> (N, 3) float32 RGB in [0, 1] = field.texture(points)."""
    device = field_device(field)
    out = np.empty((len(points), 3), dtype=np.float32)
    with torch.no_grad():
        for s in range(0, len(points), chunk):
            p = torch.as_tensor(points[s : s + chunk], dtype=torch.float32, device=device)
            out[s : s + chunk] = field.texture(p).float().clamp(0, 1).cpu().numpy()
    return out
