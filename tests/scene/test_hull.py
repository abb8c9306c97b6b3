"""The one visual hull: views vote only on what they can judge; cut parts of an object survive."""

import numpy as np
import torch

from dvr_cli.render import OccupancyGrid, camera_rays
from dvr_cli.scene.hull import hull_votes, touches_border, visual_hull
from render_scenes import ring_cameras

ROD_LO, ROD_HI = np.array([-0.95, -0.12, -0.12]), np.array([0.95, 0.12, 0.12])


def _box_masks(cameras, lo, hi):
    """Exact silhouettes of the box [lo, hi] (slab test per pixel ray)."""
    masks = []
    for cam in cameras:
        o, d = (x.double().numpy() for x in camera_rays(cam, device="cpu"))
        with np.errstate(divide="ignore", invalid="ignore"):
            t0, t1 = (lo - o) / d, (hi - o) / d
        near = np.nanmax(np.minimum(t0, t1), axis=1)
        far = np.nanmin(np.maximum(t0, t1), axis=1)
        masks.append((far >= np.maximum(near, 0)).reshape(cam.height, cam.width))
    return masks


def _rod_points(n, seed=0):
    return np.random.default_rng(seed).uniform(ROD_LO, ROD_HI, size=(n, 3))


def test_a_rod_cut_by_the_frame_keeps_its_ends():
    # Close cameras: the rod runs out of most frames, so its ends are seen by few views.
    cams = ring_cameras(16, distance=1.5, size=48, focal=80.0)
    masks = _box_masks(cams, ROD_LO, ROD_HI)
    assert sum(touches_border(m) for m in masks) >= 10
    points = _rod_points(4000)
    n_on, n_out = hull_votes(cams, masks, points, pixel_slack=1.5)  # pixel rounding at the outline
    assert (n_out == 0).all()
    assert (n_on < len(cams) / 2).mean() > 0.2  # the old "seen by half the views" rule dropped these
    assert visual_hull(cams, masks, points, pixel_slack=1.5).all()
    grid = OccupancyGrid.from_masks(cams, masks, res=32)
    assert grid.occupied(torch.from_numpy(points).float()).all()
    # ...while space beside the rod, which the views do see, is carved
    beside = np.array([[0.0, 0.6, 0.0], [0.5, -0.5, 0.3], [-0.4, 0.0, 0.6]])
    assert not visual_hull(cams, masks, beside, pixel_slack=1.5).any()


def test_a_view_that_sees_the_whole_object_carves_beyond_its_frame():
    cam = ring_cameras(1, distance=3.0, size=48, focal=60.0)[0]
    yy, xx = np.mgrid[:48, :48]
    inside = (xx - 23.5) ** 2 + (yy - 23.5) ** 2 < 10**2  # an object wholly in the frame
    cut = inside | (xx < 3)  # the same, plus object running out of the left border
    far_side = cam.center + 3.0 * cam.forward + 4.0 * cam.R[0]  # in front, projects far right of the frame
    assert cam.project(far_side[None])[0, 0] > 48
    assert not visual_hull([cam], [inside], far_side[None], min_seen=0)[0]
    assert visual_hull([cam], [cut], far_side[None], min_seen=0)[0]  # a cut silhouette says nothing there
    # slack: a point just beyond the frame survives within slack pixels
    just_beyond = cam.center + 3.0 * cam.forward + (24.5 + 2.0) / 60.0 * 3.0 * cam.R[0]
    assert not visual_hull([cam], [inside], just_beyond[None], min_seen=0)[0]
    assert visual_hull([cam], [inside], just_beyond[None], min_seen=0, pixel_slack=3.0)[0]


def test_votes_tolerate_a_share_of_wrong_masks():
    cams = ring_cameras(10, size=48)
    masks = _box_masks(cams, ROD_LO / 2, ROD_HI / 2)
    masks[3] = np.zeros_like(masks[3])  # one view's mask lost the object
    points = _rod_points(500) / 2
    assert not visual_hull(cams, masks, points, pixel_slack=1.5).any()
    assert visual_hull(cams, masks, points, pixel_slack=1.5, vote=0.8).all()
