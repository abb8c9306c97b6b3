"""Choosing the photo pairs to match by appearance (calib/pairs.py)."""

from __future__ import annotations

import numpy as np

from dvr_cli.calib.pairs import largest_scale, overlap_counts, retrieval_pairs
from dvr_cli.calib.sfm import resolve_matcher


def _unit(rng, n: int) -> np.ndarray:
    d = rng.normal(size=(n, 128)).astype(np.float32)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_overlap_counts_shared_descriptors_only():
    """Photo 1 shares 100 descriptors with photo 0 and 40 with photo 2; photo 3 has too few rows."""
    rng = np.random.default_rng(0)
    subsets = [_unit(rng, 256) for _ in range(4)]
    subsets[1][:100] = subsets[0][:100] + 0.01 * _unit(rng, 100)
    subsets[1][100:140] = subsets[2][:40]
    subsets[3] = subsets[3][:1]
    counts = overlap_counts(subsets)
    assert counts[0, 1] == counts[1, 0] == 100
    assert counts[1, 2] == 40 and counts[0, 2] <= 2
    assert (np.diag(counts) == 0).all() and (counts[3] == 0).all()


def test_retrieval_pairs_are_each_photos_best_partners():
    counts = np.array([[0, 9, 1, 0], [9, 0, 5, 2], [1, 5, 0, 7], [0, 2, 7, 0]])
    assert retrieval_pairs(counts, k=1) == [(0, 1), (2, 3)]
    assert retrieval_pairs(counts, k=2) == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]
    assert len(retrieval_pairs(counts, k=10)) == 6  # every pair, once


def test_largest_scale_keeps_the_biggest_keypoints():
    rng = np.random.default_rng(1)
    scale = np.array([1.0, 4.0, 2.0, 3.0])
    keypoints = np.column_stack([rng.uniform(size=(4, 2)), scale, np.zeros(4), np.zeros(4), scale])  # affine rows
    descriptors = rng.integers(0, 255, (4, 128), dtype=np.uint8)
    kept = largest_scale(keypoints, descriptors, n=2)
    expected = descriptors[[1, 3]].astype(np.float32)
    np.testing.assert_allclose(kept, expected / np.linalg.norm(expected, axis=1, keepdims=True), rtol=1e-6)


def test_auto_matcher_by_photo_count():
    assert [resolve_matcher("auto", n) for n in (30, 31, 100, 101)] == [
        "exhaustive",
        "retrieval",
        "retrieval",
        "sequential",
    ]
    assert resolve_matcher("exhaustive", 500) == "exhaustive"
