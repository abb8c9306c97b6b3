"""Rendering cameras to image files (dvr_cli/render/to_files.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import sphere_field as sf
from dvr_cli.render.to_files import ray_to_z_depth, render_views
from dvr_cli.scene.camera import Camera, look_at

K = np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])


def test_ray_length_to_z_depth():
    R, t = look_at(np.array([0.5, -1.0, -1.0]), np.array([0.5, -1.0, 2.0]), (0, 1, 0))
    camera = Camera(K, R, t, 64, 48)
    u, v = np.meshgrid(np.arange(64), np.arange(48))
    rays = np.stack([u, v, np.ones_like(u)], -1) @ np.linalg.inv(K).T
    ray_length = 2.0 * np.linalg.norm(rays, axis=-1)  # a plane at camera z = 2
    assert np.allclose(ray_to_z_depth(ray_length, camera, scale=3.0), 6.0)


def test_render_views_writes_world_depth(tmp_path):
    run = sf.sphere_run(tmp_path / "run")
    R, t = look_at(sf.NORMALIZATION.center + [0.0, -5.0, 0.0], sf.NORMALIZATION.center, (0, 0, 1))
    camera = Camera([[40.0, 0, 15.5], [0, 40.0, 11.5], [0, 0, 1]], R, t, 32, 24, name="front.jpg")
    files = render_views(
        lambda cam: run.render(cam, n_samples=64),
        [camera],
        tmp_path / "out",
        what=("rgb", "depth", "normal", "mask"),
        transparent=True,
    )
    names = sorted(p.name for p in files)
    assert names == ["front.png", "front_depth.npy", "front_depth.png", "front_mask.png", "front_normal.png"]
    rgba = cv2.imread(str(tmp_path / "out" / "front.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (24, 32, 4) and rgba[0, 0, 3] == 0 and rgba[12, 16, 3] == 255
    z = np.load(tmp_path / "out" / "front_depth.npy")
    # Sphere of world radius 1 (0.5 * scale 2) seen from 5 away: nearest point at z = 4.
    assert z[11:13, 15:17].min() == pytest.approx(4.0, abs=0.01)
    normal = cv2.imread(str(tmp_path / "out" / "front_normal.png"))[..., ::-1] / 255.0 * 2 - 1
    assert normal[12, 16] @ [0, -1, 0] > 0.95  # faces the camera (at -y)
