"""Writers of rendered images (dvr_cli/image_files.py): 16-bit depth PNG + .npy, MP4."""

from __future__ import annotations

import cv2
import numpy as np

from dvr_cli.image_files import write_depth, write_video


def test_depth_png_and_npy(tmp_path):
    z = np.array([[0.0, 1.2345], [70.0, 2.0]], np.float32)
    npy = write_depth(tmp_path / "d.png", z)
    png = cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.tolist() == [[0, 1234], [65535, 2000]]
    assert np.array_equal(np.load(npy), z)


def test_video_has_every_frame(tmp_path):
    frames = [np.full((24, 32, 3), 20 * i, np.uint8) for i in range(5)]
    write_video(tmp_path / "v.mp4", frames, fps=10)
    capture = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    capture.release()
