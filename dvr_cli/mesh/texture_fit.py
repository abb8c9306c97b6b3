"""Mesh colours fitted to the photos through the operator that renders the mesh.

A mesh is shown (dvr_cli.evaluate.mesh_render, `dvr render --source mesh`, the benchmark's
scorer) by casting MESH_SUPERSAMPLE^2 rays per pixel, looking each hit up in the texture atlas
(4 bilinear taps) or in the hit triangle's vertex colours (3 barycentric taps), and averaging the
rays. That is linear in the colours x (texels or vertex colours, one RGB row each): the pixels of
photo v render as A_v x, with A_v a sparse (pixels, unknowns) matrix (:func:`render_rows`).

:func:`fit_colors` solves

    min over x, g   sum_v || W_v (g_v * A_v x - b_v) ||^2 + lam || x - x0 ||^2

b_v: photo v's pixels; g_v: photo v's RGB gain (exposure, DTU's lamps that move with the
camera); W_v: robust weights, Huber's by iteratively reweighted least squares, so that
highlights, occluders and silhouette errors the mesh cannot show count little; x0: the blend of
the photos (dvr_cli.mesh.bake), which texels no pixel reads keep. The gains, given x, are a
weighted least-squares ratio per photo and channel, normalised to geometric mean 1 per channel
(x and g are otherwise defined up to a common factor); x, given g and W, solves the normal
equations (A^T G W^2 G A + lam I) x = A^T G W^2 b + lam x0 by conjugate gradients, preconditioned
with their diagonal (Jacobi), warm-started from the previous x. The blend averages photos taken
under different light and smears what their registration misses; the fit asks instead which
colours, rendered the way the file is shown, reproduce the photos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import csr_matrix

from ..errors import DvrError
from ..render.mesh import cast_camera, raycasting_scene
from ..scene.types import View
from .writers import ColoredMesh

#: Rays per pixel side when a mesh is shown or scored: a photo's pixel integrates its whole area,
#: so a single ray per pixel would score every anti-aliased edge pixel as an error.
MESH_SUPERSAMPLE = 2
#: Damping lam of the pull towards x0, in units of the squared pixel weights: a texel that about
#: one full pixel reads is decided by the photos, one that a ray grazes keeps x0. DTU 65 held-out
#: masked PSNR (10-minute fit, 544^3 mesh, 2048^2 atlas, blend 19.10 dB): fitted on the training
#: photos 18.20 dB at 0.01, 18.98 dB at 0.1; fitted on the held-out photos (the oracle) 21.19 /
#: 21.28 / 19.62 dB at 0.01 / 0.1 / 1.
DAMPING = 0.1
#: Huber's threshold, in robust standard deviations of the residual (1.4826 * median |r|): the
#: usual 95 %-efficiency constant for Gaussian noise.
HUBER_K = 1.345
#: Rounds of (weights, gains, colours) and conjugate-gradient steps per round. Measured on DTU 65
#: and lego (10-minute fits): later rounds and steps move held-out PSNR by less than 0.05 dB.
ROUNDS = 3
CG_STEPS = 30

#: (face (R,), bary (R, 3)) of R ray hits -> (columns (R, K), weights (R, K)) of the unknowns each ray reads.
Taps = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def atlas_taps(faces: np.ndarray, uv: np.ndarray, size: int) -> Taps:
    """The 4 bilinear taps of an atlas lookup, as dvr_cli.evaluate.mesh_render.sample_texture reads them.

    faces (F, 3), uv (V, 2) per vertex (u along columns, v down rows), size S: the texture side.
    A hit at uv reads texel coordinates (x, y) = uv * S - 0.5, the 4 texels around them with the
    bilinear weights, clamped at the border (BORDER_REPLICATE). Unknown index = row * S + column.
    """

    def taps(face: np.ndarray, bary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.einsum("rk,rkd->rd", bary.astype(np.float64), uv[faces[face]])
        x, y = at[:, 0] * size - 0.5, at[:, 1] * size - 0.5
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = x - x0, y - y0
        cols, weights = [], []
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            cx = np.clip(x0 + dx, 0, size - 1).astype(np.int64)
            cy = np.clip(y0 + dy, 0, size - 1).astype(np.int64)
            cols.append(cy * size + cx)
            weights.append(w)
        return np.stack(cols, axis=1), np.stack(weights, axis=1)

    return taps


def vertex_taps(faces: np.ndarray) -> Taps:
    """The 3 barycentric taps of vertex colours over faces (F, 3): unknown index = vertex index."""
    return lambda face, bary: (faces[face], bary.astype(np.float64))


@dataclass
class PixelRows:
    """Pixels of some photos as rows of the linear operator that renders the mesh's colours.

    Attributes:
        matrix: (N, U) float64 CSR: row n is pixel n's mean over its s^2 rays of their taps (a
            ray that misses the mesh adds nothing: the scorer's background is not part of it).
        targets: (N, 3) float32 the photos' RGB at those pixels.
        view: (N,) int32 index of the photo each row comes from.
        pixel: (N,) int64 the row's pixel in its photo (row-major: y * W + x).
        coverage: (N,) float32 share of the pixel's rays that hit the mesh.
    """

    matrix: csr_matrix
    targets: np.ndarray
    view: np.ndarray
    pixel: np.ndarray
    coverage: np.ndarray

    def subset(self, keep: np.ndarray) -> PixelRows:
        """The rows where ``keep`` (N,) bool is True."""
        return PixelRows(self.matrix[keep], self.targets[keep], self.view[keep], self.pixel[keep], self.coverage[keep])


def render_rows(
    verts: np.ndarray,
    faces: np.ndarray,
    views: Sequence[View],
    taps: Taps,
    n_unknowns: int,
    supersample: int = MESH_SUPERSAMPLE,
    scene=None,
) -> PixelRows:
    """The pixels of ``views`` that the mesh covers (inside each view's mask, if it has one), as
    rows of the operator that renders colours through ``taps`` (:func:`atlas_taps`, :func:`vertex_taps`).

    verts (V, 3), faces (F, 3): the mesh, in the frame of the views' cameras; n_unknowns U: the
    number of colours ``taps`` indexes; scene: the mesh's open3d RaycastingScene, if the caller has one.
    A pixel's s x s rays are cast through the sub-pixel centres of the camera resized s times
    (as MeshRenderer does); row = sum over the rays that hit of (tap weights) / s^2.
    """
    s = int(supersample)
    scene = raycasting_scene(verts, faces) if scene is None else scene
    rows, cols, weights, targets, view_of, pixels, coverage, n_rows = [], [], [], [], [], [], [], 0
    for i, view in enumerate(views):
        h, w = view.camera.height, view.camera.width
        if view.image.shape[:2] != (h, w):
            raise DvrError(
                f"view '{view.name}': image is {view.image.shape[1]}x{view.image.shape[0]} but its camera is {w}x{h}",
                view.image_path,
            )
        hits = cast_camera(scene, view.camera.resized(w * s, h * s) if s > 1 else view.camera)
        pixel = ((np.arange(h * s)[:, None] // s) * w + np.arange(w * s)[None, :] // s).reshape(-1)
        hit = hits.face.reshape(-1) >= 0
        if view.mask is not None:
            hit &= view.mask.reshape(-1)[pixel]
        n_hit = np.bincount(pixel[hit], minlength=h * w)
        index = np.flatnonzero(n_hit)  # the rows of this view, numbered from n_rows
        row_of = np.full(h * w, -1)
        row_of[index] = n_rows + np.arange(len(index))
        c, wt = taps(hits.face.reshape(-1)[hit], hits.bary.reshape(-1, 3)[hit])
        rows.append(np.repeat(row_of[pixel[hit]], c.shape[1]))
        cols.append(c.reshape(-1))
        weights.append(wt.reshape(-1) / s**2)
        targets.append(np.asarray(view.image, dtype=np.float32).reshape(-1, 3)[index])
        view_of.append(np.full(len(index), i, dtype=np.int32))
        pixels.append(index)
        coverage.append((n_hit[index] / s**2).astype(np.float32))
        n_rows += len(index)
    if not views:
        return PixelRows(
            csr_matrix((0, n_unknowns)),
            np.zeros((0, 3), np.float32),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
        )
    # CSR from (row, column) pairs sums the duplicates: taps of a pixel's rays on one texel.
    matrix = csr_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_unknowns)
    )
    return PixelRows(
        matrix, np.concatenate(targets), np.concatenate(view_of), np.concatenate(pixels), np.concatenate(coverage)
    )


@dataclass
class ColorFit:
    """What :func:`fit_colors` found.

    Attributes:
        colors: (U, 3) float32 in [0, 1]: the fitted texels or vertex colours.
        gains: (n_views, 3) float64 per-photo RGB gains (geometric mean 1 per channel; all 1
            without gains).
        read: (U,) bool: the unknowns some fitted pixel reads (the others kept x0).
    """

    colors: np.ndarray
    gains: np.ndarray
    read: np.ndarray


def huber_weights(residual: np.ndarray) -> np.ndarray:
    """Square roots of Huber's IRLS weights of the residuals (N, 3), one per pixel (N,).

    With r = |residual| (RGB norm) and delta = HUBER_K * 1.4826 * median(r):
    w = 1 for r <= delta, delta / r beyond, so that w^2 r^2 grows like delta * r (Huber's loss).
    """
    r = np.linalg.norm(residual, axis=1)
    delta = HUBER_K * 1.4826 * max(float(np.median(r)), 1e-6)
    return np.sqrt(np.minimum(1.0, delta / np.maximum(r, 1e-12)))


def solve_gains(
    predicted: np.ndarray, targets: np.ndarray, view: np.ndarray, weight: np.ndarray, n_views: int
) -> np.ndarray:
    """Per-photo RGB gains g minimising sum w^2 (g p - b)^2 in closed form, geometric mean 1.

    predicted p (N, 3) = A x, targets b (N, 3), view (N,) photo of each row, weight w (N,).
    g_v,c = sum w^2 p b / sum w^2 p^2 over photo v's rows; a photo without rows gets 1. Then each
    channel is divided by its geometric mean over the photos that have rows.
    """
    w2 = (weight**2)[:, None]
    num = np.zeros((n_views, 3))
    den = np.zeros((n_views, 3))
    np.add.at(num, view, w2 * predicted * targets)
    np.add.at(den, view, w2 * predicted * predicted)
    has = den.min(axis=1) > 1e-12
    gains = np.ones((n_views, 3))
    gains[has] = np.clip(num[has] / den[has], 1e-3, 1e3)
    if has.any():
        gains[has] /= np.exp(np.log(gains[has]).mean(axis=0))
    return gains


def conjugate_gradients(
    apply: Callable[[np.ndarray], np.ndarray], rhs: np.ndarray, x: np.ndarray, diagonal: np.ndarray, steps: int
) -> np.ndarray:
    """``steps`` of Jacobi-preconditioned conjugate gradients on apply(x) = rhs, one system per column.

    apply: symmetric positive definite (U, C) -> (U, C) (column c sees only column c);
    rhs, x (start): (U, C); diagonal: (U, C) of the operator, > 0. Returns x (U, C).
    """
    r = rhs - apply(x)
    z = r / diagonal
    p = z.copy()
    rz = (r * z).sum(axis=0)
    for _ in range(steps):
        q = apply(p)
        alpha = rz / np.maximum((p * q).sum(axis=0), 1e-300)
        x = x + alpha * p
        r = r - alpha * q
        z = r / diagonal
        rz_new = (r * z).sum(axis=0)
        p = z + (rz_new / np.maximum(rz, 1e-300)) * p
        rz = rz_new
    return x


def normal_operator(
    a: csr_matrix, at: csr_matrix, s2: np.ndarray, damping: float
) -> Callable[[np.ndarray], np.ndarray]:
    """x (U, 3) -> A^T (s2 * (A x)) + damping * x: the normal equations' matrix, channel c with
    the squared row scales s2[:, c] (N, 3); ``at`` is A^T as CSR (faster than A's transpose view)."""
    return lambda x: at @ (s2 * (a @ x)) + damping * x


def fit_colors(
    rows: PixelRows,
    x0: np.ndarray,
    n_views: int,
    gains: bool = True,
    robust: bool = True,
    damping: float = DAMPING,
    rounds: int = ROUNDS,
    steps: int = CG_STEPS,
) -> ColorFit:
    """Colours x (and per-photo gains) that, rendered through ``rows``, best reproduce its targets
    (the module docstring's problem).

    rows: the pixels (:func:`render_rows`); x0 (U, 3): the start and the prior; n_views: the
    photos ``rows.view`` indexes. ``gains`` False: all gains stay 1; ``robust`` False: plain
    least squares (W = I). Only the unknowns some row reads are solved for; the rest keep x0.
    Returns the colours clipped to [0, 1].
    """
    if x0.ndim != 2 or x0.shape != (rows.matrix.shape[1], 3):
        raise ValueError(f"x0 must be ({rows.matrix.shape[1]}, 3), got {tuple(x0.shape)}")
    m = rows.matrix
    # The columns some row reads, renumbered (faster than scipy's column indexing of a big matrix).
    columns, renumbered = np.unique(m.indices, return_inverse=True)
    read = np.zeros(m.shape[1], dtype=bool)
    read[columns] = True
    a = csr_matrix((m.data, renumbered.reshape(-1), m.indptr), shape=(m.shape[0], len(columns)))
    at = a.T.tocsr()
    a_sq_t = a.multiply(a).T.tocsr()
    b = rows.targets.astype(np.float64)
    prior = x0[read].astype(np.float64)
    x = prior.copy()
    g = np.ones((n_views, 3))
    weight = np.ones(len(b))
    for _ in range(rounds):
        predicted = a @ x
        if robust:
            weight = huber_weights(g[rows.view] * predicted - b)
        if gains:
            g = solve_gains(predicted, b, rows.view, weight, n_views)
        row_scale = weight[:, None] * g[rows.view]  # (N, 3): W G per channel
        s2 = row_scale**2
        rhs = at @ (s2 / np.maximum(g[rows.view], 1e-12) * b) + damping * prior  # A^T G W^2 b + lam x0
        x = conjugate_gradients(normal_operator(a, at, s2, damping), rhs, x, a_sq_t @ s2 + damping, steps)
    colors = x0.astype(np.float32).copy()
    colors[read] = np.clip(x, 0.0, 1.0)
    return ColorFit(colors, g, read)


def fit_mesh_colors(mesh: ColoredMesh, views: Sequence[View], **options) -> tuple[ColoredMesh, ColorFit]:
    """``mesh``'s texture atlas (or, without one, its vertex colours) fitted to ``views``
    (cameras in the mesh's frame) by :func:`fit_colors`, its own colours as x0.

    Only pixels all of whose rays hit the mesh are fitted (the others also show the background);
    ``options`` go to :func:`fit_colors`. Returns the re-coloured mesh and the fit.
    """
    if mesh.texture is not None:
        size = len(mesh.texture)
        taps, x0 = atlas_taps(mesh.faces, mesh.uv, size), mesh.texture.reshape(-1, 3)
    elif mesh.colors is not None:
        taps, x0 = vertex_taps(mesh.faces), mesh.colors
    else:
        raise DvrError("the mesh has neither a texture nor vertex colours to fit")
    rows = render_rows(mesh.verts, mesh.faces, views, taps, len(x0))
    fit = fit_colors(rows.subset(rows.coverage == 1.0), x0, len(views), **options)
    if mesh.texture is not None:
        return replace(mesh, texture=fit.colors.reshape(mesh.texture.shape)), fit
    return replace(mesh, colors=fit.colors), fit
