"""Chamfer / F-score between meshes with known distances."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from dvr_cli.errors import DvrError
from dvr_cli.evaluate.geometry import load_mesh, mesh_distances


def as_pair(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(mesh.vertices, float), np.asarray(mesh.faces)


@pytest.fixture(scope="module")
def sphere():
    return as_pair(trimesh.creation.icosphere(subdivisions=5, radius=1.0))


def test_mesh_against_itself(sphere):
    result = mesh_distances(sphere, sphere, n_points=20000)
    assert result["chamfer_l1"] < 1e-6 and result["fscore"] == 1.0
    assert result["gt_diagonal"] == pytest.approx(2 * np.sqrt(3), rel=1e-3)
    assert result["threshold"] == pytest.approx(0.01 * result["gt_diagonal"])


def test_concentric_spheres_distance_is_the_gap(sphere):
    verts, faces = sphere
    gap = 0.02
    bigger = (verts * (1 + gap), faces)
    result = mesh_distances(bigger, sphere, n_points=20000)
    # Every point of one sphere is `gap` from the other (up to the facets' sag, ~2e-4).
    assert result["accuracy"] == pytest.approx(gap * 1.0, abs=5e-4)
    assert result["completeness"] == pytest.approx(gap, abs=5e-4)
    assert result["chamfer_l1_pct"] == pytest.approx(100 * gap / result["gt_diagonal"], rel=0.03)
    assert result["fscore"] == 1.0  # default threshold: 1% of the diagonal = 0.0346 > gap
    assert mesh_distances(bigger, sphere, n_points=5000, threshold=0.015)["fscore"] == 0.0


def test_shifted_plane_distance_is_the_offset():
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    square, shifted = (verts, faces), (verts + [0.0, 0.0, 0.005], faces)
    result = mesh_distances(shifted, square, n_points=10000)
    assert result["accuracy"] == pytest.approx(0.005, rel=1e-3)
    assert result["chamfer_l1"] == pytest.approx(0.005, rel=1e-3)


def test_load_mesh_errors(tmp_path):
    with pytest.raises(DvrError, match="does not exist"):
        load_mesh(tmp_path / "missing.ply")
    bad = tmp_path / "bad.ply"
    bad.write_text("ply\nformat nonsense\n")
    with pytest.raises(DvrError, match="cannot read mesh") as info:
        load_mesh(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
