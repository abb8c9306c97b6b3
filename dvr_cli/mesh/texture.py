"""Texture atlas: UV-unwrap the mesh, then bake a colouring of its surface (the texture field's,
or the photos') into an image.

UV convention here: u runs along image columns and v down image rows, both in [0, 1]; the
centre of texel (row j, column i) is at uv = ((i + 0.5) / S, (j + 0.5) / S). Writers convert
to their file's convention (OBJ and trimesh: v up).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ..errors import DvrError
from ..runtime import open3d

# Candidate texels per rasterisation batch (bounds the temporary arrays to ~100 MB).
_BATCH_TEXELS = 1 << 21
_FACES_PER_PARTITION = 50_000


def uv_atlas(verts: np.ndarray, faces: np.ndarray, size: int, gutter: float = 2.0) -> np.ndarray:
    """UV charts of a manifold mesh (open3d's UVAtlas; far faster than xatlas on big meshes).

    verts (V, 3), faces (F, 3), size: texture side in texels (gutter is in texels).
    Returns (F, 3, 2) float64 per-corner uv in [0, 1].
    """
    o3d = open3d()
    mesh = o3d.t.geometry.TriangleMesh()
    mesh.vertex.positions = o3d.core.Tensor(np.ascontiguousarray(verts, dtype=np.float32))
    mesh.triangle.indices = o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.int64))
    # Big meshes are cut into partitions unwrapped in parallel (a few more charts, same quality).
    partitions = max(1, len(faces) // _FACES_PER_PARTITION)
    try:
        mesh.compute_uvatlas(size=int(size), gutter=float(gutter), parallel_partitions=partitions)
    except RuntimeError as exc:  # UVAtlas rejects non-manifold input
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown reason"
        raise DvrError(f"UV atlas failed ({reason}); use --texture vertex") from None
    return mesh.triangle.texture_uvs.numpy().astype(np.float64)


def split_seams(faces: np.ndarray, corner_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One vertex per distinct (vertex, uv) pair, as per-vertex-uv formats (glTF) need.

    faces (F, 3), corner_uv (F, 3, 2) -> (source (V',) index of each new vertex in the old
    vertices, faces (F, 3) into the new vertices, uv (V', 2)).
    """
    rows = np.column_stack([faces.reshape(-1).astype(np.float64), corner_uv.reshape(-1, 2)])
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    return unique[:, 0].astype(np.int64), inverse.reshape(-1, 3), unique[:, 1:]


def rasterize_uv(uv: np.ndarray, faces: np.ndarray, size: int, pad: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Which triangle covers each texel, and where (conservative rasterisation in UV space).

    uv (V, 2) in [0, 1], faces (F, 3), size S. A texel belongs to the triangle that contains its
    centre or, failing that, to the nearest triangle within ``pad`` texels, with barycentrics
    clamped onto it: texels at chart borders then get the colour of the surface they border,
    so bilinear lookups across a seam do not blend in the background.
    Returns face (S, S) int64 (-1: no triangle) and bary (S, S, 3) float32.
    """
    corners = uv[faces] * size - 0.5  # (F, 3, 2) in texel-centre coordinates
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    e1, e2 = b - a, c - a
    area2 = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    # Distance from each edge's line to the opposite corner: b_i * height_i is a signed distance.
    edge_len = np.linalg.norm(np.stack([c - b, a - c, b - a], axis=1), axis=2)
    heights = np.abs(area2)[:, None] / np.maximum(edge_len, 1e-12)
    lo = np.clip(np.floor(corners.min(axis=1) - pad), 0, size - 1).astype(np.int64)
    hi = np.clip(np.ceil(corners.max(axis=1) + pad), 0, size - 1).astype(np.int64)
    side = (hi - lo).max(axis=1) + 1

    best = np.full(size * size, np.inf, dtype=np.float32)
    face_of = np.full(size * size, -1, dtype=np.int64)
    bary_of = np.zeros((size * size, 3), dtype=np.float32)
    usable = np.flatnonzero(np.abs(area2) > 1e-12)
    for m in np.unique(side[usable]):
        same = usable[side[usable] == m]
        offsets = np.stack(np.meshgrid(np.arange(m), np.arange(m), indexing="xy"), axis=-1).reshape(-1, 2)
        for s in range(0, len(same), max(1, _BATCH_TEXELS // (m * m))):
            f = same[s : s + max(1, _BATCH_TEXELS // (m * m))]
            p = lo[f, None, :] + offsets[None]  # (n, m*m, 2) texel (x, y)
            inside_box = np.all(p <= hi[f, None, :], axis=2)
            d = p - a[f, None, :]
            beta = (d[..., 0] * e2[f, None, 1] - e2[f, None, 0] * d[..., 1]) / area2[f, None]
            gamma = (e1[f, None, 0] * d[..., 1] - d[..., 0] * e1[f, None, 1]) / area2[f, None]
            bary = np.stack([1.0 - beta - gamma, beta, gamma], axis=-1)
            dist = np.maximum(0.0, (-bary * heights[f, None, :]).max(axis=2))
            keep = inside_box & (dist <= pad)
            texel = (p[..., 1] * size + p[..., 0])[keep]
            dist, fk = dist[keep], np.broadcast_to(f[:, None], keep.shape)[keep]
            bary = np.clip(bary[keep], 0.0, None)
            # Nearest triangle per texel within the batch, then against earlier batches.
            order = np.lexsort((dist, texel))
            texel, first = np.unique(texel[order], return_index=True)
            pick = order[first]
            better = dist[pick] < best[texel]
            texel, pick = texel[better], pick[better]
            best[texel] = dist[pick]
            face_of[texel] = fk[pick]
            bary_of[texel] = bary[pick] / bary[pick].sum(axis=1, keepdims=True)
    return face_of.reshape(size, size), bary_of.reshape(size, size, 3)


def fill_empty(image: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """Fill every empty texel by push-pull (Gortler et al. 1996): an empty texel takes the mean
    of the filled texels around it at the finest pyramid level that has any (bilinearly upsampled).

    image (S, S, 3) float32, filled (S, S) bool. Filled texels keep their values; the gutters
    between charts get the colour of the charts they border and fade smoothly between them, so
    mip-mapped (averaged) lookups near a chart border do not mix in black or another chart's
    unrelated colour.
    """
    if filled.all() or not filled.any():
        return image
    # Premultiplied colour and coverage per level; cv2's INTER_AREA halving is the 2x2 mean.
    levels = [(image * filled[..., None], filled.astype(np.float32))]
    while max(levels[-1][1].shape) > 1:
        colour, weight = levels[-1]
        half = (max(1, (weight.shape[1] + 1) // 2), max(1, (weight.shape[0] + 1) // 2))
        levels.append(
            (
                cv2.resize(colour, half, interpolation=cv2.INTER_AREA),
                cv2.resize(weight, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0]),
            )
        )
    colour, weight = levels[-1]
    out = colour.reshape(1, 1, 3) / max(float(weight.squeeze()), 1e-12)
    for colour, weight in reversed(levels[:-1]):
        coarse = cv2.resize(out, (weight.shape[1], weight.shape[0]), interpolation=cv2.INTER_LINEAR)
        coarse = coarse.reshape(weight.shape[0], weight.shape[1], 3)
        # Where this level has coverage, the mean of its filled texels; elsewhere the coarser estimate.
        out = np.where(weight[..., None] > 0, colour / np.maximum(weight, 1e-12)[..., None], coarse)
    return np.where(filled[..., None], image, out).astype(np.float32)


def bake_texture(
    color_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    verts: np.ndarray,
    faces: np.ndarray,
    uv: np.ndarray,
    size: int,
) -> np.ndarray:
    """Texture image of ``color_fn`` over the mesh: each texel gets the colour of its surface point.

    color_fn: (points (P, 3) in the frame of ``verts``, face (P,) the triangle each lies on) ->
    (P, 3) RGB in [0, 1]: the texture field's colours, or the photos' (dvr_cli.mesh.bake).
    verts (V, 3), faces (F, 3), uv (V, 2) per-vertex (see :func:`split_seams`).
    Returns (S, S, 3) float32, row 0 at v = 0.
    """
    face, bary = rasterize_uv(uv, faces, size)
    filled = face >= 0
    tri = verts[faces[face[filled]]]  # (P, 3, 3)
    points = np.einsum("pk,pkd->pd", bary[filled].astype(np.float64), tri)
    image = np.zeros((size, size, 3), dtype=np.float32)
    image[filled] = color_fn(points, face[filled])
    return fill_empty(image, filled)


def face_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) unit normals of counter-clockwise faces (outward); zero for degenerate faces."""
    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
