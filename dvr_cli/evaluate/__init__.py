"""Metrics (PSNR, SSIM, IoU, Chamfer / F-score) and the `dvr eval` report."""

from .geometry import mesh_distances
from .image_metrics import masked_psnr, psnr, silhouette_iou, ssim
from .report import evaluate_run

__all__ = ["evaluate_run", "masked_psnr", "mesh_distances", "psnr", "silhouette_iou", "ssim"]
