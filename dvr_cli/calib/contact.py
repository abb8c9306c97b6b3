"""A contact sheet of masks: every photo as a thumbnail with its mask's outline, so a user sees at
a glance which masks to fix by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..files import save_png

#: Outline colours (RGB): masks whose confidence is under LOW_CONFIDENCE are drawn in the warning colour.
OUTLINE, WARNING = (0, 255, 0), (255, 40, 40)
LOW_CONFIDENCE = 0.8


def contact_sheet(
    images: list[np.ndarray],
    masks: list[np.ndarray],
    labels: list[str],
    confidence: np.ndarray | None = None,
    thumb_width: int = 200,
    columns: int = 8,
) -> np.ndarray:
    """One (rows * h, columns * thumb_width, 3) uint8 image of thumbnails with mask outlines.

    Args:
        images: per view (H, W, 3) uint8 RGB; masks: per view (H, W) bool; labels: text per view.
        confidence: optional (N_v,) per mask, printed after the label; masks under
            LOW_CONFIDENCE get a red outline.
        thumb_width: thumbnail width in pixels (height keeps the first image's aspect ratio).
    """
    H, W = images[0].shape[:2]
    h = max(1, round(thumb_width * H / W))
    rows = -(-len(images) // columns)
    sheet = np.zeros((rows * h, min(columns, len(images)) * thumb_width, 3), np.uint8)
    for k, (image, mask, label) in enumerate(zip(images, masks, labels)):
        thumb = np.ascontiguousarray(cv2.resize(image[..., :3], (thumb_width, h), interpolation=cv2.INTER_AREA))
        small = cv2.resize(mask.astype(np.uint8), (thumb_width, h), interpolation=cv2.INTER_NEAREST)
        low = confidence is not None and confidence[k] < LOW_CONFIDENCE
        contours, _ = cv2.findContours(small, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(thumb, contours, -1, WARNING if low else OUTLINE, 1)
        text = label if confidence is None else f"{label} {confidence[k]:.2f}"
        cv2.putText(thumb, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(thumb, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        r, c = divmod(k, columns)
        sheet[r * h : (r + 1) * h, c * thumb_width : (c + 1) * thumb_width] = thumb
    return sheet


def write_contact_sheet(
    path: str | Path,
    images: list[np.ndarray],
    masks: list[np.ndarray],
    labels: list[str],
    confidence: np.ndarray | None = None,
) -> Path:
    """Write :func:`contact_sheet` as a PNG."""
    return save_png(path, contact_sheet(images, masks, labels, confidence))
