"""A line chart drawn into an image, for the viewer's panels (viser 1.1.1's uPlot charts stay
empty when updated below other controls, so the curves are drawn here with OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np

#: Margins of the plot area inside the image, pixels: room for the title and the value ranges.
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 22, 20


def line_plot(x: list, y: list, title: str, color=(0, 0, 0), size: tuple[int, int] = (320, 160)) -> np.ndarray:
    """(H, W, 3) uint8 image of the curve y(x) with its title and value ranges; ``size`` is (W, H)
    and ``color`` RGB. With fewer than 2 points only the title and the frame are drawn."""
    w, h = size
    image = np.full((h, w, 3), 255, np.uint8)
    text = dict(
        fontFace=cv2.FONT_HERSHEY_SIMPLEX, fontScale=0.38, color=(60, 60, 60), thickness=1, lineType=cv2.LINE_AA
    )
    cv2.putText(image, title, (LEFT, 14), **text)
    cv2.rectangle(image, (LEFT, TOP), (w - RIGHT, h - BOTTOM), (200, 200, 200), 1)
    if len(x) >= 2:
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        span_x, span_y = max(x.max() - x.min(), 1e-12), max(y.max() - y.min(), 1e-12)
        px = LEFT + (x - x.min()) / span_x * (w - RIGHT - LEFT)
        py = h - BOTTOM - (y - y.min()) / span_y * (h - BOTTOM - TOP)
        cv2.polylines(image, [np.stack([px, py], axis=1).round().astype(np.int32)], False, tuple(color), 2, cv2.LINE_AA)
        cv2.putText(image, f"{y.max():.3g}", (2, TOP + 8), **text)
        cv2.putText(image, f"{y.min():.3g}", (2, h - BOTTOM), **text)
        cv2.putText(image, f"{x.min():.0f}", (LEFT, h - 5), **text)
        cv2.putText(image, f"it {x.max():.0f}", (w - RIGHT - 50, h - 5), **text)
    return image
