"""Image metrics on images with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dvr_cli.evaluate.image_metrics import gaussian_window, masked_psnr, psnr, silhouette_iou, ssim


@pytest.fixture()
def image():
    rng = np.random.default_rng(0)
    smooth = np.cumsum(np.cumsum(rng.random((64, 48, 3)), axis=0), axis=1)
    return (smooth / smooth.max()).astype(np.float32)


def test_identical_images(image):
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-9)


def test_known_offset_gives_known_psnr(image):
    # A constant error of 0.1 everywhere: MSE = 0.01, PSNR = 20 dB exactly.
    assert psnr(np.clip(image, 0, 0.9) + 0.1, np.clip(image, 0, 0.9)) == pytest.approx(20.0, abs=1e-6)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.05, image.shape)
    assert psnr(image + noise, image) == pytest.approx(-10 * np.log10(np.mean(noise**2)), abs=1e-9)
    assert psnr(image + noise, image) == pytest.approx(26.02, abs=0.1)  # sigma 0.05 -> 10 log10(400)


def test_masked_psnr_counts_only_the_mask(image):
    mask = np.zeros(image.shape[:2], bool)
    mask[10:30, 5:20] = True
    pred = image.copy()
    pred[~mask] = 0.0  # wrong everywhere outside the mask
    pred[mask] += 0.01
    assert masked_psnr(pred, image, mask) == pytest.approx(40.0, abs=1e-4)
    assert math.isnan(masked_psnr(pred, image, np.zeros_like(mask)))


def test_ssim_formula_on_constant_images():
    # Constant images: sigma = 0, so SSIM = (2 a b + C1) / (a^2 + b^2 + C1).
    a, b, c1 = 0.4, 0.6, 0.01**2
    value = ssim(np.full((20, 20, 3), a), np.full((20, 20, 3), b))
    assert value == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-9)


def test_ssim_drops_with_noise(image):
    rng = np.random.default_rng(2)
    light = ssim(np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1), image)
    heavy = ssim(np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1), image)
    assert 1.0 > light > heavy > 0.0


def test_gaussian_window():
    g = gaussian_window()
    assert g.shape == (11,) and g.sum() == pytest.approx(1.0) and g[5] / g[4] == pytest.approx(np.exp(1 / (2 * 1.5**2)))


def test_silhouette_iou():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[:, :6] = True
    b[:, 4:] = True
    assert silhouette_iou(a, b) == pytest.approx(20 / 100)
    assert silhouette_iou(a, a) == 1.0 and silhouette_iou(~(a | True), ~(b | True)) == 1.0
