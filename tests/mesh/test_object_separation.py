"""The object apart from its supports, from surface points as a fit's depth maps give them: a
table, a wall, both, and nothing to separate (an object in the open); and from a run (an
analytic field of the same scene): the object's masks, the export cut to the object, the table
kept with keep_surroundings, one line and everything kept when nothing separates."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from dvr_cli.mesh.export import export_mesh
from dvr_cli.mesh.separate import OBJECT_FILE, ObjectRegion, object_masks, object_region, separate_points
from tabletop_field import FRAME, tabletop_run
from tabletop_scene import WALL_X, first_hits, render, table_and_wall_scene, tabletop_cameras


def depth_points(surfaces, cameras) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per camera: unit-frame surface points (H*W, 3), hit inside the cube (H*W,), object truth (H*W,)."""
    points, hits, truth = [], [], []
    for camera in cameras:
        X, first, hit = first_hits(surfaces, camera)
        X = FRAME.to_unit(X)
        hit &= np.all(np.abs(X) <= 1, axis=1)
        points.append(X)
        hits.append(hit)
        truth.append(hit & np.array([s.is_object for s in surfaces])[first])
    return points, hits, truth


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("table, wall", [(True, False), (False, True), (True, True)])
def test_the_object_apart_from_a_table_and_a_wall(table, wall, tmp_path):
    cameras = tabletop_cameras(10, (64, 48), azimuth=70.0)
    points, hits, truth = depth_points(table_and_wall_scene(wall=wall, table=table), cameras)
    unit = [FRAME.camera_to_unit(c) for c in cameras]
    found = separate_points(np.concatenate([p[h] for p, h in zip(points, hits)]), unit)
    assert found.region is not None, found.reason
    assert len(found.region.planes) == table + wall
    scores = [iou(h & found.region.contains(p), t) for p, h, t in zip(points, hits, truth)]
    assert min(scores) >= 0.95, np.round(scores, 3)
    saved = ObjectRegion.load(found.region.save(tmp_path / "object.npz"))
    assert np.array_equal(saved.cells, found.region.cells) and np.allclose(saved.planes, found.region.planes)


def test_an_object_in_the_open_is_not_separated():
    cameras = tabletop_cameras(10, (64, 48))
    points, hits, _ = depth_points(table_and_wall_scene(wall=False, table=False), cameras)
    found = separate_points(
        np.concatenate([p[h] for p, h in zip(points, hits)]), [FRAME.camera_to_unit(c) for c in cameras]
    )
    assert found.region is None and found.reason == "no table, floor or wall found"


def test_a_run_without_masks_gives_the_object(tmp_path):
    """The object's masks of a run (its rendered silhouette), and its export without the table
    and the wall; with keep_surroundings the export keeps them."""
    cameras = tabletop_cameras(10, (80, 60), azimuth=70.0)
    run = tabletop_run(tmp_path, cameras)
    lines: list[str] = []
    region = object_region(run, lines.append)
    assert region is not None and (tmp_path / OBJECT_FILE).is_file() and len(region.planes) == 2
    masks, confidence = object_masks(run, region, cameras[:4])
    truth = [render(table_and_wall_scene(), c)["mask"] for c in cameras[:4]]
    scores = [iou(m, t) for m, t in zip(masks, truth)]
    assert min(scores) >= 0.95 and np.all(confidence > 0.5), (np.round(scores, 3), confidence)

    cut = trimesh.load(export_mesh(run, "ply", resolution=64, out=tmp_path / "object.ply", log=lines.append))
    whole = trimesh.load(export_mesh(run, "ply", resolution=64, out=tmp_path / "whole.ply", keep_surroundings=True))
    assert any("faces kept" in line for line in lines)
    assert cut.vertices[:, 2].min() > -0.02 and cut.vertices[:, 0].min() > WALL_X + 0.3  # world: table z = 0
    assert whole.vertices[:, 2].min() < -0.04 and whole.vertices[:, 0].min() < WALL_X
    assert 0.2 * len(whole.faces) > len(cut.faces) > 500


def test_nothing_separates_one_line_and_everything_kept(tmp_path):
    run = tabletop_run(tmp_path, tabletop_cameras(8, (48, 36)), table=False, wall=False)
    lines: list[str] = []
    mesh = trimesh.load(export_mesh(run, "ply", resolution=48, out=tmp_path / "mesh.ply", log=lines.append))
    said = [line for line in lines if "separated" in line]
    assert said == [
        "no object could be separated from its surroundings (no table, floor or wall found): the whole region is kept"
    ]
    assert mesh.vertices[:, 2].min() < 0.02 and not (tmp_path / OBJECT_FILE).exists()
