"""Decoding photos and masks (bit depths, channels, alpha) and resampling them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dvr_cli.errors import DvrError
from dvr_cli.scene.images import read_image, read_mask, resize_mask


def test_gray_8bit(tmp_path):
    path = tmp_path / "g.png"
    cv2.imwrite(str(path), np.full((4, 5), 51, np.uint8))
    rgb, alpha = read_image(path)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.float32 and alpha is None
    np.testing.assert_allclose(rgb, 0.2, atol=1e-6)


def test_rgb_16bit_channel_order(tmp_path):
    path = tmp_path / "c.png"
    bgr = np.zeros((3, 3, 3), np.uint16)
    bgr[..., 2] = 65535  # red in OpenCV's BGR order
    bgr[..., 0] = 13107  # blue = 0.2
    cv2.imwrite(str(path), bgr)
    rgb, _ = read_image(path)
    np.testing.assert_allclose(rgb[0, 0], [1.0, 0.0, 0.2], atol=1e-6)


def test_rgba_composited_on_white_and_alpha_is_mask(tmp_path):
    path = tmp_path / "a.png"
    bgra = np.zeros((2, 2, 4), np.uint8)  # black everywhere, as NeRF-synthetic under alpha = 0
    bgra[0, 0] = (0, 0, 255, 255)  # opaque red
    bgra[1, 1] = (0, 0, 0, 102)  # 40% opaque black
    cv2.imwrite(str(path), bgra)
    rgb, alpha = read_image(path)
    np.testing.assert_allclose(rgb[0, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], [1, 1, 1], atol=1e-6)  # transparent -> white background
    np.testing.assert_allclose(rgb[1, 1], [0.6, 0.6, 0.6], atol=1e-6)
    np.testing.assert_allclose(alpha, [[1, 0], [0, 0.4]], atol=1e-6)


def test_mask_threshold_at_127_and_any_channel(tmp_path):
    gray = tmp_path / "m.png"
    cv2.imwrite(str(gray), np.array([[0, 127, 128, 255]], np.uint8))
    np.testing.assert_array_equal(read_mask(gray), [[False, False, True, True]])
    colour = tmp_path / "c.png"
    cv2.imwrite(str(colour), np.array([[[0, 0, 0], [0, 200, 0]]], np.uint8))  # DTU masks are RGB
    np.testing.assert_array_equal(read_mask(colour), [[False, True]])


def test_undecodable_image_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(DvrError, match="cannot decode") as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_resize_mask_is_area_coverage():
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True  # block (0, 0) fully covered
    mask[2, 2:] = True  # block (1, 1) half covered -> kept (>= 0.5)
    mask[0, 2] = True  # block (0, 1) quarter covered -> dropped
    np.testing.assert_array_equal(resize_mask(mask, 2, 2), [[True, False], [False, True]])
