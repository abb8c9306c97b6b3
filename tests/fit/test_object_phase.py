"""The object phase of a fit without masks: a derived mask from a coarse render (its size, and no
label at its outline), the region of masks' visual hull, the derived masks through a checkpoint,
the loss terms they switch on (only where sure, the freespace only in the object's region), and a
plane through the object that is no support."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dvr_cli.config import FitConfig
from dvr_cli.fit import fit, object_phase, resume
from dvr_cli.fit.object_phase import DERIVED_MASKS, DerivedMasks, apply, separated_masks
from dvr_cli.mesh.separate import GRID, OBJECT_FILE, ObjectRegion, derived_mask, hull_region, separate_points
from dvr_cli.model import DVRModel
from dvr_cli.model.ray_batch import RayBatch
from dvr_cli.run import CHECKPOINT, holdout_split
from dvr_cli.scene.types import Scene, View
from sphere_scene import tiny_config
from tabletop_field import FRAME, TabletopField
from tabletop_scene import first_hits, render, table_and_wall_scene, tabletop_cameras


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


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


def test_the_masks_separated_from_a_surface_are_the_objects(tmp_path):
    """The object phase's masks from the analytic field of a box and a sphere on a table before a
    wall (what a fit without masks models): at the photos' size, IoU >= 0.95 with the true masks
    away from the outline, and a sampler given them draws labelled rays."""
    cameras = tabletop_cameras(10, (96, 72), azimuth=70.0)
    unit = [FRAME.camera_to_unit(c) for c in cameras]
    truth = [render(table_and_wall_scene(), c)["mask"] for c in cameras]
    views = [View(c, render(table_and_wall_scene(), c)["rgb"]) for c in cameras]
    cfg = FitConfig.from_preset("fast", device="cpu")
    sampler = cfg.sampler.setup(views, unit, 1.0, torch.device("cpu"), torch.Generator().manual_seed(0))
    job = SimpleNamespace(
        model=DVRModel(cfg, TabletopField(table=True, wall=True)), data=SimpleNamespace(sampler=sampler), iteration=5
    )
    derived = separated_masks(job)
    assert derived.region is not None and len(derived.region.planes) == 2, derived.reason
    scores = [iou(m & k, t & k) for m, k, t in zip(derived.masks, derived.known, truth)]
    assert min(scores) >= 0.95 and all(k.mean() > 0.8 for k in derived.known), np.round(scores, 3)
    apply(job, derived)
    batch = sampler.sample()
    assert batch.mask is not None and batch.mask_known is not None and 0 < batch.mask.float().mean() < 1


@pytest.mark.slow
def test_a_fit_without_masks_runs_its_object_phase_and_resumes_with_it(tmp_path, monkeypatch):
    """A short fit without masks of the tabletop: the object phase starts at 1 - object_share of the
    plan and records its masks (derived_masks.json, the checkpoint, the region in object.npz); a fit
    stopped after it and resumed continues with them and ends as the uninterrupted one, bit for bit.
    (Twelve iterations make no surface to separate: the phase is given the true masks here, the
    tests above score the separation.)"""
    cameras = tabletop_cameras(12, (64, 48), azimuth=70.0)
    shots = [render(table_and_wall_scene(), c) for c in cameras]
    scene = Scene([View(c, shot["rgb"]) for c, shot in zip(cameras, shots)], FRAME)
    cfg = tiny_config(iters=12, object_share=0.5)
    train, _ = holdout_split(len(scene), cfg.holdout)
    truth = [shots[i]["mask"] for i in train]
    region = hull_region([FRAME.camera_to_unit(cameras[i]) for i in train], truth)
    given = DerivedMasks(6, region, truth, [np.ones_like(t) for t in truth])
    monkeypatch.setattr(object_phase, "derive_masks", lambda job: given)
    whole = fit(scene, cfg, tmp_path / "whole")
    record = json.loads((tmp_path / "whole" / DERIVED_MASKS).read_text())
    assert whole.iterations == 12 and record["iteration"] == 6 and record["separated"]
    assert ObjectRegion.load(tmp_path / "whole" / OBJECT_FILE).iteration == 12
    assert fit(scene, cfg, tmp_path / "cut", hooks=[lambda job: job.iteration >= 8]).iterations == 8
    assert torch.load(tmp_path / "cut" / CHECKPOINT, weights_only=True)["derived_masks"]["iteration"] == 6
    assert resume(tmp_path / "cut", scene=scene).iterations == 12
    ends = [torch.load(tmp_path / name / CHECKPOINT, weights_only=True)["field"] for name in ("whole", "cut")]
    assert all(torch.equal(ends[0][k], ends[1][k]) for k in ends[0])
