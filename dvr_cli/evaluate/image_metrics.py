"""Image metrics: PSNR, masked PSNR, SSIM (Gaussian window), silhouette IoU.

Images are (H, W, 3) float arrays in [0, 1]; masks (H, W) bool.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: SSIM as in Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 1.
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"image shapes differ: {pred.shape} vs {gt.shape}")


def psnr_from_mse(mse: float) -> float:
    """10 log10(1 / mse) for images in [0, 1]; inf for mse = 0."""
    return math.inf if mse <= 0 else 10.0 * math.log10(1.0 / mse)


def psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    """PSNR over all pixels and channels (dB)."""
    _check_pair(pred, gt)
    return psnr_from_mse(float(np.mean((np.asarray(pred, np.float64) - gt) ** 2)))


def masked_psnr(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """PSNR over the pixels where ``mask`` is True (nan for an empty mask)."""
    _check_pair(pred, gt)
    if not mask.any():
        return math.nan
    return psnr_from_mse(float(np.mean((np.asarray(pred, np.float64)[mask] - gt[mask]) ** 2)))


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """(size,) normalised 1-D Gaussian; the 2-D window is its outer product."""
    x = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean SSIM over channels and 'valid' window positions (no padding), data range 1.

    SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (K1 L)^2, C2 = (K2 L)^2, local statistics under the Gaussian window.
    """
    _check_pair(pred, gt)
    x = np.asarray(pred, np.float64).reshape(pred.shape[0], pred.shape[1], -1)
    y = np.asarray(gt, np.float64).reshape(x.shape)
    g = gaussian_window()
    r = SSIM_WINDOW // 2
    if min(x.shape[:2]) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {x.shape[1]}x{x.shape[0]}"
        )

    def blur(a):
        return cv2.sepFilter2D(a, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT)[r:-r, r:-r]

    c1, c2 = SSIM_K1**2, SSIM_K2**2
    values = []
    for ch in range(x.shape[2]):
        a, b = x[..., ch], y[..., ch]
        mu_a, mu_b = blur(a), blur(b)
        var_a = blur(a * a) - mu_a**2
        var_b = blur(b * b) - mu_b**2
        cov = blur(a * b) - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        values.append(s.mean())
    return float(np.mean(values))


def silhouette_iou(pred_mask: np.ndarray, gt_mask: np.ndarray) -> float:
    """|pred & gt| / |pred | gt| (1 when both are empty)."""
    _check_pair(pred_mask, gt_mask)
    union = np.logical_or(pred_mask, gt_mask).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred_mask, gt_mask).sum() / union)


def error_map(pred: np.ndarray, gt: np.ndarray, max_error: float = 0.25) -> np.ndarray:
    """(H, W, 3) float RGB heat map (colormap 'turbo') of the per-pixel mean absolute error."""
    err = np.clip(np.abs(np.asarray(pred) - gt).mean(axis=2) / max_error, 0.0, 1.0)
    bgr = cv2.applyColorMap(np.round(err * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    return bgr[..., ::-1].astype(np.float32) / 255.0
