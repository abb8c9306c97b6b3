"""Similarity alignment of two point sets (Umeyama 1991) and camera-pose errors after it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.spatial.transform import Rotation

from ..scene.camera import Camera


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity mapping ``src`` onto ``dst``: dst_i ~ s R src_i + t.

    Args:
        src: (N, 3) points, N >= 3 and not collinear.
        dst: (N, 3) corresponding points.
    Returns:
        s: scale; R: (3, 3) rotation (det +1); t: (3,) translation.
    """
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 3 or src.shape != dst.shape or len(src) < 3:
        raise ValueError(f"umeyama needs two (N>=3, 3) arrays of equal shape, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = (xs**2).sum() / len(src)
    U, D, Vt = np.linalg.svd(xd.T @ xs / len(src))
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:  # reflection: flip the weakest axis
        S[2, 2] = -1
    R = U @ S @ Vt
    s = float((D * np.diag(S)).sum() / var_s)
    return s, R, mu_d - s * R @ mu_s


def transform_camera(camera: Camera, s: float, R: np.ndarray, t: np.ndarray) -> Camera:
    """The same camera in a frame where X_new = s R X + t (pixels unchanged).

    World-to-camera becomes R_c' = R_c R^T and t_c' = s t_c - R_c' t.
    """
    Rc = camera.R @ R.T
    return replace(camera, R=Rc, t=s * camera.t - Rc @ t)


def pose_errors(estimated: list[Camera], truth: list[Camera]) -> dict:
    """Align ``estimated`` camera centres to ``truth`` (similarity), then compare poses.

    Returns a dict: ``rotation_deg`` (N,) angle between aligned and true rotations,
    ``center`` (N,) distance between aligned and true centres (truth's units),
    and ``s, R, t`` of the alignment (estimated -> truth frame).
    """
    if len(estimated) != len(truth):
        raise ValueError(f"pose_errors needs as many estimated as true cameras ({len(estimated)} != {len(truth)})")
    src = np.stack([c.center for c in estimated])
    dst = np.stack([c.center for c in truth])
    s, R, t = umeyama(src, dst)
    aligned = [transform_camera(c, s, R, t) for c in estimated]
    # the angle of each relative rotation, from its rotation vector: arccos((trace - 1) / 2) loses
    # half the digits near 0, where the errors of interest are
    rot = [np.degrees(Rotation.from_matrix(a.R @ b.R.T).magnitude()) for a, b in zip(aligned, truth)]
    centers = np.linalg.norm(np.stack([a.center for a in aligned]) - dst, axis=1)
    return {"rotation_deg": np.array(rot), "center": centers, "s": s, "R": R, "t": t}
