"""Which photos to match: each photo with the ones that look most like it (no vocabulary tree).

Exhaustive matching costs n(n-1)/2 full matchings (1,225 for 50 photos, the largest stage of a
photos-only calibration). Here every photo's ``SUBSET`` largest-scale SIFT descriptors are
matched to every other photo's (mutual nearest neighbours passing Lowe's ratio test: a cheap
estimate of the overlap), and only each photo's ``NEIGHBOURS`` best partners are then matched in
full. Unlike sequential matching it does not assume the photos were taken in order, and unlike
COLMAP's vocabulary-tree retrieval it needs no downloaded vocabulary.
"""

from __future__ import annotations

import numpy as np

#: Descriptors per photo in the overlap estimate (largest scale first: they repeat across views).
SUBSET = 256
#: Full matchings per photo: its best partners by that estimate.
NEIGHBOURS = 12
#: Lowe's ratio test on the descriptor distances of the overlap estimate.
RATIO = 0.8


def largest_scale(keypoints: np.ndarray, descriptors: np.ndarray, n: int = SUBSET) -> np.ndarray:
    """(min(n, N), 128) float32 unit descriptors of the ``n`` largest-scale keypoints.

    keypoints: (N, >= 4) COLMAP rows (x, y, a11, a12, a21, a22) or (x, y, scale, orientation);
    descriptors: (N, 128) uint8.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    scale = np.sqrt(np.abs(kp[:, 2] * kp[:, 5] - kp[:, 3] * kp[:, 4])) if kp.shape[1] >= 6 else kp[:, 2]
    keep = np.argsort(-scale, kind="stable")[:n]
    d = np.asarray(descriptors, dtype=np.float32)[keep]
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)


def overlap_counts(subsets: list[np.ndarray]) -> np.ndarray:
    """(n, n) symmetric int: mutual nearest-neighbour matches passing the ratio test between the
    photos' descriptor ``subsets`` (each (m_i, 128) unit rows, m_i <= SUBSET; 0 on the diagonal).

    The subsets are padded with zero rows to one size: a zero row is equally far from every
    descriptor, so it fails the ratio test and is never counted.
    """
    n, m = len(subsets), max((len(d) for d in subsets), default=0)
    stacked = np.zeros((n, m, 128), dtype=np.float32)
    for i, d in enumerate(subsets):
        stacked[i, : len(d)] = d
    counts = np.zeros((n, n), dtype=np.int64)
    if m < 2:
        return counts
    rows, flat = np.arange(m), stacked.reshape(n * m, 128)
    for i in range(n):
        sim = (flat @ stacked[i].T).reshape(n, m, m)  # [j, b, a]: photo j's row b against photo i's row a
        best_ba = np.argmax(sim, axis=2)  # (n, m): photo j's row b -> its nearest row of photo i
        sim = sim.transpose(0, 2, 1).copy()  # [j, a, b]
        best_ab = np.argmax(sim, axis=2)  # (n, m): photo i's row a -> its nearest row of photo j
        first = np.take_along_axis(sim, best_ab[..., None], axis=2)[..., 0]
        np.put_along_axis(sim, best_ab[..., None], -np.inf, axis=2)
        second = sim.max(axis=2)
        mutual = np.take_along_axis(best_ba, best_ab, axis=1) == rows
        dist = np.sqrt(np.maximum(2.0 - 2.0 * np.stack([first, second]), 0.0))  # unit vectors: |a - b|
        counts[i] = np.sum(mutual & (dist[0] < RATIO * dist[1]), axis=1)
    counts[np.arange(n), np.arange(n)] = 0
    return np.minimum(counts, counts.T)


def retrieval_pairs(counts: np.ndarray, k: int = NEIGHBOURS) -> list[tuple[int, int]]:
    """Sorted pairs (i < j): each photo with its ``k`` partners of highest ``counts`` (n, n)."""
    n = len(counts)
    pairs = set()
    for i in range(n):
        order = [j for j in np.argsort(-counts[i], kind="stable") if j != i][:k]
        pairs.update((min(i, int(j)), max(i, int(j))) for j in order)
    return sorted(pairs)
