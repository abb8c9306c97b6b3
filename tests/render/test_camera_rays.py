"""Rays through pixel centres (OpenCV; ``Camera.pixel_rays`` and its torch wrapper) and the slab intersection with
the unit cube."""

import numpy as np
import torch

from dvr_cli.render import camera_rays, intersect_cube
from dvr_cli.scene.camera import Camera, look_at


def _camera():
    R, t = look_at(np.array([2.0, -2.5, 1.0]), np.array([0.1, 0.0, -0.1]))
    K = np.array([[70.0, 0.0, 20.5], [0.0, 65.0, 14.0], [0.0, 0.0, 1.0]])
    return Camera(K, R, t, 40, 30)


def test_rays_reproject_to_their_pixels():
    cam = _camera()
    origins, dirs = camera_rays(cam)
    assert origins.shape == dirs.shape == (40 * 30, 3)
    assert torch.allclose(dirs.norm(dim=1), torch.ones(1200))
    assert np.allclose(origins[0].numpy(), cam.center, atol=1e-6)
    points = (origins + 1.7 * dirs).double().numpy()
    uv = cam.project(points)
    v, u = np.meshgrid(np.arange(30), np.arange(40), indexing="ij")  # row-major: pixel (i, j) at index j*W + i
    assert np.abs(uv - np.stack([u.ravel(), v.ravel()], 1)).max() < 1e-3


def test_principal_point_ray_is_the_viewing_axis_and_pixels_dtype():
    cam = _camera()
    pixels = torch.tensor([[20.5, 14.0]], dtype=torch.float64)
    origins, dirs = camera_rays(cam, pixels)
    assert dirs.dtype == torch.float64
    assert np.allclose(dirs[0].numpy(), cam.forward, atol=1e-12)


def test_the_torch_wrapper_gives_the_cameras_numpy_rays_bit_for_bit():
    cam = _camera()  # no distortion, skewless, off-centre principal point
    for uv in (None, np.array([[0.0, 0.0], [39.0, 29.0], [20.25, 14.5]], dtype=np.float32)):
        origins, dirs = cam.pixel_rays(uv)
        got = camera_rays(cam, None if uv is None else torch.from_numpy(uv))
        assert isinstance(dirs, np.ndarray) and dirs.dtype == np.float32 and len(dirs) == (1200 if uv is None else 3)
        assert np.array_equal(origins, got[0].numpy()) and np.array_equal(dirs, got[1].numpy())
    assert np.allclose(cam.pixel_rays(np.array([[20.5, 14.0]]))[1][0], cam.forward, atol=1e-12)  # float64 in, out


def test_intersect_cube_slabs():
    origins = torch.tensor([[-3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-3.0, 2.0, 0.0], [3.0, 0.0, 0.0], [-3.0, 1.0, 0.0]])
    dirs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    t_near, t_far, valid = intersect_cube(origins, dirs)
    assert valid.tolist() == [True, True, False, False, False]  # last: grazes the face y = 1 (empty interval)
    assert torch.allclose(t_near[:2], torch.tensor([2.0, 0.0]))  # origin inside: t_near clamped to 0
    assert torch.allclose(t_far[:2], torch.tensor([4.0, 1.0]))
    diagonal = torch.nn.functional.normalize(torch.ones(1, 3), dim=1)
    t_near, t_far, valid = intersect_cube(-3 * diagonal, diagonal, bound=0.5)
    assert valid.all() and torch.allclose(t_far - t_near, torch.tensor([3**0.5]))
