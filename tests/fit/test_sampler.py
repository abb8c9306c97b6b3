import numpy as np
import pytest
import torch

from dvr_cli.errors import DvrError
from dvr_cli.fit.sampler import RaySampler, SamplerConfig, edge_band
from dvr_cli.render.rays import intersect_cube
from dvr_cli.scene.camera import Camera
from sphere_scene import CENTER, RADIUS, make_scene


def _sampler(scene, seed=0, rays=400, views=3, fraction=0.5, edge=0.0):
    config = SamplerConfig(rays_per_step=rays, views_per_step=views, mask_ray_fraction=fraction, edge_ray_fraction=edge)
    return RaySampler(
        scene.views,
        scene.unit_cameras(),
        scene.normalization.scale,
        torch.device("cpu"),
        torch.Generator().manual_seed(seed),
        config=config,
    )


def test_share_of_rays_inside_masks_and_views_per_step(sphere_scene):
    batch = _sampler(sphere_scene, rays=400, views=3, fraction=0.25).sample()
    assert len(batch) == 400
    assert batch.mask.float().mean().item() == pytest.approx(0.25, abs=0.01)  # 33/34 per view rounds
    assert len(batch.view_index.unique()) == 3


def test_edge_band_is_the_outline_two_pixels_each_side():
    mask = np.zeros((12, 12), bool)
    mask[3:9, 3:9] = True  # a 6x6 square: its inner 2x2 core and everything beyond 2 px outside are not edge
    band = edge_band(mask, 2)
    assert band[4, 4] and band[1, 5] and band[3, 3] and band[8, 8]
    assert not band[5, 5] and not band[0, 5] and not band[11, 11]
    assert band.sum() == 10 * 10 - 2 * 2


def test_edge_rays_fall_near_the_mask_outline(sphere_scene):
    batch = _sampler(sphere_scene, rays=600, views=3, fraction=0.5, edge=0.5).sample()
    near = []
    for k in range(len(batch)):
        u, v = batch.pixels[k].long().tolist()
        near.append(bool(edge_band(sphere_scene.views[int(batch.view_index[k])].mask)[v, u]))
    near = torch.tensor(near)
    # each view's rays are [edge | in-mask | outside]: half of them (100 of 200) from the band
    assert near.float().mean() >= 0.5
    assert near.view(3, 200)[:, :100].all()


def test_ray_targets_are_the_pixels_the_rays_pass_through(sphere_scene):
    batch = _sampler(sphere_scene).sample()
    for k in range(0, len(batch), 37):
        view = sphere_scene.views[int(batch.view_index[k])]
        u, v = batch.pixels[k].tolist()
        assert u == int(u) and v == int(v)
        assert torch.allclose(batch.rgb[k], torch.from_numpy(view.image[int(v), int(u)]))
        assert bool(batch.mask[k]) == bool(view.mask[int(v), int(u)])
        # a point along the ray, back in world units, projects onto the pixel
        point = (batch.origins[k] + 1.7 * batch.dirs[k]).double().numpy()
        world = sphere_scene.normalization.to_world(point[None])
        assert np.allclose(view.camera.project(world)[0], [u, v], atol=1e-3)


def test_all_rays_cross_the_cube_and_random_points_lie_on_them_inside(sphere_scene):
    batch = _sampler(sphere_scene).sample()
    assert intersect_cube(batch.origins, batch.dirs)[2].all()
    assert (batch.random_points.abs() <= 1 + 1e-5).all()
    along = batch.random_points - batch.origins
    cross = torch.linalg.cross(along, batch.dirs)
    assert cross.norm(dim=1).max() < 1e-4


def test_depth_targets_are_unit_frame_ray_lengths():
    scene = make_scene(depth=True)
    batch = _sampler(scene).sample()
    known = batch.depth > 0
    # the sphere's depth is known exactly where it is seen
    assert known.sum() > 50 and bool((known == batch.mask).all())
    surface = batch.origins[known] + batch.depth[known, None] * batch.dirs[known]
    world = scene.normalization.to_world(surface.double().numpy())
    assert np.allclose(np.linalg.norm(world - CENTER, axis=1), RADIUS, atol=1e-4)


def test_same_generator_state_same_rays(sphere_scene):
    a, b = _sampler(sphere_scene, seed=3), _sampler(sphere_scene, seed=3)
    a.sample()
    state = a.generator.get_state()
    first = a.sample()
    b.generator.set_state(state)
    assert torch.equal(first.pixels, b.sample().pixels)


def test_cameras_that_miss_the_cube_are_an_error(sphere_scene):
    away = []
    for view in sphere_scene.views:
        cam = view.camera
        R = np.diag([-1.0, 1.0, -1.0]) @ cam.R  # turned around (x and z flipped): looks away from the object
        away.append(Camera(cam.K, R, -R @ cam.center, cam.width, cam.height))
    with pytest.raises(DvrError, match="misses the unit cube"):
        RaySampler(
            sphere_scene.views,
            [sphere_scene.normalization.camera_to_unit(c) for c in away],
            1.0,
            torch.device("cpu"),
            torch.Generator(),
            config=SamplerConfig(rays_per_step=64, views_per_step=2),
        )
