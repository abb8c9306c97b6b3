"""The object phase of a fit without masks: a derived mask from a coarse render (its size, and no
label at its outline), the region of masks' visual hull, the derived masks through a checkpoint,
the loss terms they switch on (only where sure, the freespace only in the object's region), and a
plane through the object that is no support."""

from __future__ import annotations

import numpy as np
import torch

from dvr_cli.config import FitConfig
from dvr_cli.fit.object_phase import DerivedMasks
from dvr_cli.mesh.separate import GRID, ObjectRegion, derived_mask, hull_region, separate_points
from dvr_cli.model import DVRModel
from dvr_cli.model.batch import RayBatch
from tabletop_field import FRAME
from tabletop_scene import first_hits, table_and_wall_scene, tabletop_cameras


def _box_region(lo: float, hi: float) -> ObjectRegion:
    """The cells of the box [lo, hi]^3 of the unit frame."""
    centres = -1.0 + (np.arange(GRID) + 0.5) * 2.0 / GRID
    inside = (centres >= lo) & (centres <= hi)
    return ObjectRegion(inside[:, None, None] & inside[None, :, None] & inside[None, None, :], np.zeros((0, 4)))


def test_a_derived_mask_is_the_silhouette_at_the_photo_size_unlabelled_at_its_outline():
    camera = FRAME.camera_to_unit(tabletop_cameras(1, (16, 12))[0])
    region = _box_region(-0.8, 0.8)
    depth = np.full((12, 16), 0.0, np.float32)
    hit = np.zeros((12, 16), bool)
    hit[4:8, 6:10] = True
    origins, dirs = camera.pixel_rays()
    centre_distance = np.linalg.norm(origins[0])  # the cube's centre is the region's: a hit there is the object's
    depth[hit] = centre_distance
    mask, known = derived_mask({"depth": depth, "mask": hit}, camera, region, (64, 48))
    assert mask.shape == known.shape == (48, 64)
    # the 4x upscale, bilinear, then >= 1/2: the 16 x 16 block less its 4 corners (0.625^2 < 1/2)
    assert mask[17:31, 24:40].all() and mask[16:32, 25:39].all() and mask.sum() == 16 * 16 - 4
    assert known[20:28, 28:36].all() and known[:8].all()  # sure inside and far outside
    assert not known[16:32, 24].any() and not known[24, 20:44].all()  # not at the outline
    off = {"depth": np.where(hit, 0.1, 0.0).astype(np.float32), "mask": hit}  # hits outside the region
    assert not derived_mask(off, camera, region, (64, 48))[0].any()


def test_the_region_of_masks_is_their_visual_hull():
    cameras = tabletop_cameras(8, (48, 36), azimuth=70.0)
    scene = table_and_wall_scene()
    truth = []
    for camera in cameras:
        _, first, hit = first_hits(scene, camera)
        truth.append((hit & np.array([s.is_object for s in scene])[first]).reshape(camera.height, camera.width))
    region = hull_region([FRAME.camera_to_unit(c) for c in cameras], truth)
    on_object = FRAME.to_unit(np.array([[0.0, 0.0, 0.25], [0.0, 0.0, 0.8]]))  # the box's and the sphere's centres
    off_object = FRAME.to_unit(np.array([[0.0, 0.0, -0.4], [0.9, 0.9, 0.2], [-0.85, 0.0, 1.2]]))  # table, wall
    assert region.contains(on_object).all() and not region.contains(off_object).any()
    assert hull_region([FRAME.camera_to_unit(c) for c in cameras], [np.zeros_like(t) for t in truth]) is None


def test_derived_masks_survive_a_checkpoint():
    rng = np.random.default_rng(0)
    masks = [rng.random((5, 7)) > 0.5, rng.random((3, 4)) > 0.5]
    known = [~m for m in masks]
    derived = DerivedMasks(12, _box_region(-0.5, 0.2), masks, known)
    buffer = __import__("io").BytesIO()
    torch.save(derived.state(), buffer)
    buffer.seek(0)
    back = DerivedMasks.from_state(torch.load(buffer, weights_only=True))
    assert back.iteration == 12 and np.array_equal(back.region.cells, derived.region.cells)
    assert all(np.array_equal(a, b) for a, b in zip(back.masks + back.known, masks + known))
    nothing = DerivedMasks.from_state(DerivedMasks(3, None, [], [], "no table found").state())
    assert nothing.region is None and nothing.reason == "no table found"


def test_derived_masks_apply_only_where_sure_and_empty_only_the_object_region():
    cfg = FitConfig.from_preset("fast", device="cpu")
    model = DVRModel(cfg, cfg.field.setup())
    n = 4
    batch = RayBatch(
        origins=torch.zeros(n, 3),
        dirs=torch.tensor([[1.0, 0.0, 0.0]] * n),
        rgb=torch.zeros(n, 3),
        mask=torch.tensor([False, False, True, False]),
        depth=None,
        random_points=torch.zeros(n, 3),
        view_index=torch.zeros(n, dtype=torch.long),
        pixels=torch.zeros(n, 2),
        mask_known=torch.tensor([True, True, True, False]),
    )
    probes = torch.tensor([[0.1, 0.0, 0.0], [0.9, 0.0, 0.0], [0.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    out = {
        "rgb": torch.zeros(n, 3),
        "compared": torch.ones(n, dtype=torch.bool),
        "hit": torch.tensor([True, True, False, True]),
        "probe_logits": torch.zeros(n),
        "probe_points": probes,
    }
    region = _box_region(-0.5, 0.5)
    terms = model.get_loss_dict(out, batch, lambda p: torch.as_tensor(region.contains(p.numpy())))
    # ray 0: out of mask, sure, its probe in the region -> empty; ray 1: probe past the region (the
    # table) -> no term; ray 2: in mask, missed -> full; ray 3: not sure -> no term
    assert torch.isclose(terms["freespace"], torch.tensor(np.log(2.0) / n, dtype=torch.float32))
    assert torch.isclose(terms["occupancy"], torch.tensor(np.log(2.0) / n, dtype=torch.float32))


def test_a_plane_through_the_object_is_no_support():
    cameras = [FRAME.camera_to_unit(c) for c in tabletop_cameras(8, (48, 36), azimuth=180.0)]
    rng = np.random.default_rng(0)
    ball = rng.normal(size=(4000, 3))
    ball = 0.5 * ball / np.linalg.norm(ball, axis=1, keepdims=True)  # a sphere alone, its points all round
    flat = ball[np.abs(ball[:, 2]) < 0.02]
    points = np.concatenate([ball, np.repeat(flat, 8, axis=0)])  # its equator weighs like a plane
    found = separate_points(points, cameras)
    assert found.region is None and found.reason == "no table, floor or wall found"
