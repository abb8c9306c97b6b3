"""find_surface on analytic sphere occupancies: depths to 1e-4 after secant, misses, inside flags."""

import torch

from dvr_cli.render import camera_rays, find_surface
from dvr_cli.render.occgrid import OccupancyGrid
from render_scenes import ring_cameras, sphere_depth, sphere_logit_fn


def test_hits_sphere_at_analytic_depth():
    center, radius = (0.1, -0.05, 0.08), 0.45
    logit_fn = sphere_logit_fn(center, radius, sharpness=10.0)
    for cam in ring_cameras(4, size=32):
        o, d = camera_rays(cam)
        hits = find_surface(logit_fn, o, d, n_samples=32, n_secant=8)
        expected = sphere_depth(o, d, center, radius)
        hits_sphere = ~torch.isnan(expected)
        assert hits_sphere.sum() > 100  # the sphere covers a good part of the image
        # Rays grazing the silhouette can fall between two samples; all others must be found.
        clear = sphere_depth(o, d, center, radius - 0.02).isnan().logical_not()
        assert hits.hit[clear].all()
        assert not hits.hit[~hits_sphere].any()
        assert not hits.inside.any()
        err = (hits.depth[hits.hit] - expected[hits.hit]).abs()
        assert err.max() < 1e-4, f"max depth error {err.max():.2e}"
        assert (hits.depth[~hits.hit] == 0).all()


def test_secant_converges_with_a_nonlinear_profile():
    # logit = k (r^2 - |p|^2) is quadratic along the ray: plain linear interpolation would be off.
    def logit_fn(p):
        return 4.0 * (0.5**2 - (p * p).sum(-1))

    o = torch.tensor([[0.0, 0.0, -3.0], [0.2, 0.1, -3.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    hits = find_surface(logit_fn, o, d, n_samples=8, n_secant=8)
    expected = sphere_depth(o, d, (0, 0, 0), 0.5)
    assert hits.hit.all()
    assert (hits.depth - expected).abs().max() < 1e-5


def test_first_of_two_spheres_is_taken():
    left, right = sphere_logit_fn((-0.5, 0, 0), 0.2), sphere_logit_fn((0.5, 0, 0), 0.2)

    def union(p):
        return torch.maximum(left(p), right(p))

    o = torch.tensor([[-3.0, 0.0, 0.0], [3.0, 0.0, 0.0], [-3.0, 0.05, 0.0]])
    d = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    hits = find_surface(union, o, d, n_samples=64)
    assert hits.hit.all()
    expected = torch.tensor([3.0 - 0.7, 3.0 - 0.7, 3.0 - 0.5 - (0.2**2 - 0.05**2) ** 0.5])
    assert torch.allclose(hits.depth, expected, atol=1e-4)


def test_rays_starting_inside_are_flagged_not_hit():
    logit_fn = sphere_logit_fn((0, 0, 0), 0.5)
    o = torch.zeros(3, 3)
    d = torch.eye(3)
    hits = find_surface(logit_fn, o, d, n_samples=16)
    assert hits.inside.all()
    assert not hits.hit.any()
    assert torch.allclose(hits.t_far, torch.ones(3))


def test_rays_missing_cube_or_sphere_are_misses():
    logit_fn = sphere_logit_fn((0, 0, 0), 0.5)
    o = torch.tensor([[3.0, 3.0, 3.0], [0.0, 0.0, -3.0], [0.0, 0.9, -3.0]])
    d = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]), dim=1)
    hits = find_surface(logit_fn, o, d, n_samples=16)
    assert not hits.hit.any() and not hits.inside.any()
    # Away from the cube: empty extent; behind the camera: also empty; passing beside: full cube.
    assert hits.t_near[:2].eq(0).all() and hits.t_far[:2].eq(0).all()
    assert torch.allclose(hits.t_far[2] - hits.t_near[2], torch.tensor(2.0))


def test_float64_and_counts():
    logit_fn = sphere_logit_fn((0, 0, 0), 0.5)
    calls = []

    def counted(p):
        calls.append(p.shape[0])
        assert p.dtype == torch.float64
        return logit_fn(p)

    o = torch.tensor([[0.0, 0.0, -3.0]], dtype=torch.float64)
    d = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    hits = find_surface(counted, o, d, n_samples=10, n_secant=5)
    assert abs(float(hits.depth[0]) - 2.5) < 1e-12
    assert sum(calls) == hits.n_evaluated == 10 + 5


def test_peak_sample_is_the_closest_approach_to_the_sphere():
    # For logit = k (r - |p - c|) the most occupied point of a ray is its closest approach to c:
    # t* = (c - o) . w, known to within half a marching sample.
    center, radius, n_samples = torch.tensor([0.1, -0.05, 0.08]), 0.3, 64
    cam = ring_cameras(1, size=24)[0]
    o, d = camera_rays(cam)
    hits = find_surface(sphere_logit_fn(center, radius), o, d, n_samples=n_samples)
    closest = ((center - o) * d).sum(1)
    crosses = hits.t_far > hits.t_near
    step = (hits.t_far - hits.t_near) / (n_samples - 1)
    assert crosses.sum() > 400 and not hits.t_peak[crosses].isnan().any()
    assert ((hits.t_peak - closest).abs()[crosses] <= 0.5 * step[crosses] + 1e-6).all()
    assert hits.t_peak[~crosses].isnan().all()


def test_stop_at_hit_same_hits_fewer_evaluations():
    # Two spheres, one behind the other along the view: a hit ray's samples past its first
    # crossing (the back sphere included) are not evaluated; misses are marched in full.
    front, back = sphere_logit_fn((0.0, 0.0, 0.0), 0.35), sphere_logit_fn((0.3, 0.2, 0.5), 0.3)

    def union(p):
        return torch.maximum(front(p), back(p))

    o, d = camera_rays(ring_cameras(1, size=32)[0])
    grid = OccupancyGrid.full(32).update(union, margin_cells=1)
    for occ_grid in (None, grid):
        full = find_surface(union, o, d, n_samples=64, occ_grid=occ_grid)
        staged = find_surface(union, o, d, n_samples=64, occ_grid=occ_grid, stop_at_hit=True)
        assert full.hit.sum() > 200 and (~full.hit).sum() > 200
        for name in ("hit", "inside", "depth", "t_near", "t_far"):
            assert torch.equal(getattr(full, name), getattr(staged, name)), name
        miss = ~full.hit
        assert torch.equal(full.t_peak[miss].nan_to_num(-1.0), staged.t_peak[miss].nan_to_num(-1.0))
        # a hit ray's peak is then over the samples up to its crossing: inside it, past the surface
        assert (staged.t_peak[full.hit] >= full.depth[full.hit]).all()
        # (0.88 of the evaluations over the whole chords, 0.81 over the occupied spans)
        assert staged.n_evaluated < (0.9 if occ_grid is None else 0.85) * full.n_evaluated
