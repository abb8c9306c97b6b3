"""Occupancy bit-grid: conservative visual hull, field-driven update, identical hits with fewer evaluations."""

import numpy as np
import torch

from dvr_cli.render import OccupancyGrid, camera_rays, find_surface
from render_scenes import ring_cameras, sphere_depth, sphere_logit_fn

CENTER, RADIUS = (0.1, 0.0, -0.05), 0.5


def _sphere_masks(cameras, center, radius):
    masks = []
    for cam in cameras:
        o, d = camera_rays(cam, device="cpu")
        hit = ~sphere_depth(o.double(), d.double(), center, radius).isnan()
        masks.append(hit.reshape(cam.height, cam.width).numpy())
    return masks


def _points_in_ball(n, center, radius, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=1)
    r = radius * torch.rand(n, 1, generator=gen) ** (1 / 3)
    r[: n // 2] = radius  # half exactly on the surface
    return x * r + torch.tensor(center)


def test_visual_hull_contains_sphere_and_carves_corners():
    cams = ring_cameras(12, size=48)
    grid = OccupancyGrid.from_masks(cams, _sphere_masks(cams, CENTER, RADIUS), res=32, dilate=1)
    assert grid.occupied(_points_in_ball(20000, CENTER, RADIUS)).all()
    corners = 0.95 * torch.tensor(
        [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=torch.float32
    )
    assert not grid.occupied(corners).any()
    sphere_share = 4 / 3 * np.pi * RADIUS**3 / 8
    assert sphere_share < grid.fraction < 4 * sphere_share, grid.fraction


def test_occupied_at_faces_and_outside():
    grid = OccupancyGrid.full(8)
    inside_faces = torch.tensor([[1.0, 1.0, 1.0], [-1.0, 0.0, 1.0], [1.0 + 1e-6, 0.0, 0.0]])
    outside = torch.tensor([[1.01, 0.0, 0.0], [0.0, -1.5, 0.0]])
    assert grid.occupied(inside_faces).all()
    assert not grid.occupied(outside).any()


def test_update_keeps_all_surface_and_roundtrips():
    logit_fn = sphere_logit_fn(CENTER, 0.3)
    grid = OccupancyGrid.full(32).update(logit_fn, margin_cells=1, generator=torch.Generator().manual_seed(0))
    surface = _points_in_ball(5000, CENTER, 0.3)
    assert grid.occupied(surface).all()
    assert not grid.occupied(torch.tensor([[0.1, 0.0, 0.6], [-0.7, 0.0, 0.0]])).any()
    copy = OccupancyGrid.from_state_dict(grid.state_dict())
    assert torch.equal(copy.bits, grid.bits) and copy.fraction == grid.fraction


def test_skipping_gives_same_hits_with_4x_fewer_evaluations():
    center, radius = (0.1, 0.05, 0.0), 0.3
    analytic = sphere_logit_fn(center, radius)
    counts = []

    def counted(p):
        counts[-1] += p.shape[0]
        return analytic(p)

    cams = ring_cameras(12, size=48)
    grid = OccupancyGrid.from_masks(cams, _sphere_masks(cams, center, radius), res=64, dilate=1)
    updated = OccupancyGrid.full(64).update(analytic, margin_cells=2)
    origins, dirs = camera_rays(ring_cameras(3, size=48, seed=5)[1])
    counts.append(0)
    dense = find_surface(counted, origins, dirs, n_samples=64)
    for skip_grid in (grid, updated):
        counts.append(0)
        skipped = find_surface(counted, origins, dirs, n_samples=64, occ_grid=skip_grid)
        assert torch.equal(skipped.hit, dense.hit) and torch.equal(skipped.inside, dense.inside)
        assert (skipped.depth - dense.depth).abs().max() < 1e-5
        # the same steps over the occupied span only: finer where surface can be, still >= 4x fewer evaluations
        assert counts[0] >= 4 * counts[-1], f"dense {counts[0]} vs skipping {counts[-1]} evaluations"
        assert skipped.n_evaluated == counts[-1]
    assert dense.hit.sum() > 100


def test_bracket_end_in_an_empty_cell_is_evaluated():
    # Only the cells holding inside points are kept (no margin) and samples are sparser than cells:
    # the outside sample before a crossing lies in an empty cell, so find_surface must evaluate it.
    analytic = sphere_logit_fn((0.0, 0.0, 0.0), 0.5)
    half_diagonal = 3**0.5 / 64
    grid = OccupancyGrid.full(64).update(
        analytic, margin_cells=0, samples_per_cell=1, logit_margin=10.0 * half_diagonal
    )
    calls = []

    def recorded(p):
        calls.append(p)
        return analytic(p)

    origins, dirs = camera_rays(ring_cameras(1, size=32)[0])
    dense = find_surface(analytic, origins, dirs, n_samples=24)
    skipped = find_surface(recorded, origins, dirs, n_samples=24, occ_grid=grid)
    # Calls: the marching samples in occupied cells, then the skipped bracket ends, then 8 secant steps.
    assert len(calls) == 10 and grid.occupied(calls[0]).all()
    # (the steps cover the rays' occupied spans, padded by a cell: fewer outside ends fall in empty cells)
    assert calls[1].shape[0] > 20 and not grid.occupied(calls[1]).any()
    # every hit of the dense march is found at the same depth; the finer steps over the occupied
    # spans also catch grazing rays that 24 steps over the whole chord step over
    assert not (dense.hit & ~skipped.hit).any() and skipped.hit.sum() >= dense.hit.sum()
    assert (skipped.depth - dense.depth)[dense.hit].abs().max() < 1e-5


def test_update_never_leaves_the_visual_hull():
    cams = ring_cameras(12, size=48)
    grid = OccupancyGrid.from_masks(cams, _sphere_masks(cams, CENTER, RADIUS), res=32, dilate=1)
    hull = grid.hull.clone()
    grid.update(sphere_logit_fn(CENTER, 0.9), margin_cells=2)  # a field far larger than the hull
    assert torch.equal(grid.bits, hull)  # everything the field fills, cut back to the hull
    assert grid.occupied(_points_in_ball(5000, CENTER, RADIUS)).all()
    copy = OccupancyGrid.from_state_dict(grid.state_dict())
    assert torch.equal(copy.hull, hull)


def test_views_that_see_the_whole_object_carve_what_no_view_sees():
    cams = ring_cameras(12, size=48)
    masks = _sphere_masks(cams, CENTER, RADIUS)  # the sphere is inside every frame
    grid = OccupancyGrid.from_masks(cams, masks, res=16)
    # Cells no view sees on its mask are dropped, whatever their image; cut silhouettes would abstain.
    corner = torch.tensor([[0.95, 0.95, 0.95]])
    assert not grid.occupied(corner).any()
    full = [np.ones_like(m) for m in masks]  # masks that touch every border: nothing beyond a frame is judged
    assert OccupancyGrid.from_masks(cams, full, res=16).fraction > grid.fraction
