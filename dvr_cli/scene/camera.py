"""The one camera type of dvr: an OpenCV pinhole, world-to-camera.

A world point X maps to pixel u ~ K (R X + t); camera axes x right, y down, z forward. The
centre of pixel (column i, row j) is at (u, v) = (i, j), so the pixel covers [i - 0.5, i + 0.5) x
[j - 0.5, j + 0.5) and the image [-0.5, W - 0.5) x [-0.5, H - 0.5). Every loader converts into
this; ``Camera.project`` / ``project_depth`` and ``Camera.in_image`` are the one projection and the
one in-image rule of dvr, ``Camera.pixel_rays`` the one pixel-to-ray.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import DvrError


@dataclass
class Camera:
    """OpenCV pinhole camera.

    Attributes:
        K: (3, 3) intrinsics [[fx, 0, cx], [0, fy, cy], [0, 0, 1]].
        R: (3, 3) world-to-camera rotation.
        t: (3,) world-to-camera translation.
        width, height: image size in pixels.
        dist: (5,) OpenCV distortion (k1, k2, p1, p2, k3) or None for an ideal pinhole.
        name: the image's file name (no folder), used to match images, masks and outputs.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int
    dist: np.ndarray | None = None
    name: str = ""

    def __post_init__(self):
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        self.R = np.asarray(self.R, dtype=np.float64).reshape(3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(3)
        self.width, self.height = int(self.width), int(self.height)
        if self.dist is not None:
            d = np.zeros(5)
            given = np.asarray(self.dist, dtype=np.float64).ravel()[:5]
            d[: given.size] = given
            self.dist = None if not np.any(d) else d

    # ----------------------------------------------------------------- checks
    def validate(self, source: str | Path) -> "Camera":
        """Raise :class:`DvrError` naming ``source`` if this camera is not a valid pinhole."""
        who = f"camera '{self.name}'" if self.name else "camera"
        arrays = {"K": self.K, "R": self.R, "t": self.t}
        if self.dist is not None:
            arrays["dist"] = self.dist
        for key, value in arrays.items():
            if not np.all(np.isfinite(value)):
                raise DvrError(f"{who}: {key} contains NaN or inf", source)
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise DvrError(f"{who}: focal length must be positive (fx={self.K[0, 0]:g}, fy={self.K[1, 1]:g})", source)
        if not np.allclose(self.K[2], [0, 0, 1], atol=1e-6):
            raise DvrError(f"{who}: last row of K must be [0, 0, 1]", source)
        if not np.allclose(self.R @ self.R.T, np.eye(3), atol=1e-4) or np.linalg.det(self.R) < 0:
            raise DvrError(f"{who}: R is not a rotation (R R^T != I or det(R) < 0)", source)
        if self.width <= 0 or self.height <= 0:
            raise DvrError(f"{who}: image size must be positive ({self.width}x{self.height})", source)
        return self

    # -------------------------------------------------------------- geometry
    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, C = -R^T t."""
        return -self.R.T @ self.t

    @property
    def forward(self) -> np.ndarray:
        """(3,) viewing direction (camera +z) in world coordinates."""
        return self.R[2]

    @property
    def focal(self) -> float:
        """Focal length in pixels, the geometric mean of fx and fy."""
        return float(np.sqrt(self.K[0, 0] * self.K[1, 1]))

    def world_to_camera(self, X: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) camera-frame points, R X + t."""
        return np.asarray(X, dtype=np.float64) @ self.R.T + self.t

    def project(self, X: np.ndarray, distort: bool = False) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixel coordinates (u, v).

        With ``distort`` the OpenCV distortion model is applied (pixel in the raw image);
        otherwise the ideal pinhole (pixel in the undistorted image).
        """
        Xc = self.world_to_camera(X)
        xy = Xc[:, :2] / Xc[:, 2:3]
        if distort and self.dist is not None:
            k1, k2, p1, p2, k3 = self.dist
            x, y = xy[:, 0], xy[:, 1]
            r2 = x * x + y * y
            radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
            xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
            xy = np.stack([xd, yd], axis=1)
        return xy @ self.K[:2, :2].T + self.K[:2, 2]

    def project_depth(self, X: np.ndarray, distort: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> pixels uv (N, 2) (as :meth:`project`) and depth (N,) along the
        camera's z. Points not in front of the camera (depth <= 0) get a finite but meaningless uv
        (the principal point's): test ``depth > 0`` before using it."""
        depth = self.world_to_camera(X)[:, 2]
        safe = np.where(depth[:, None] > 1e-9, np.asarray(X, dtype=np.float64), self.center + self.forward)
        return self.project(safe, distort), depth

    def in_image(self, uv: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N,) bool: pixel coordinates uv (N, 2) fall on the image, [-0.5, W - 0.5) x [-0.5, H - 0.5)
        (pixel (i, j) covers [i - 0.5, i + 0.5)), shrunk by ``margin`` pixels on every side.

        margin 0.5 keeps the points whose bilinear lookup reads only pixels of the image
        (u in [0, W - 1)). ``pixel_index`` gives the pixel a point in the image falls on.
        """
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        lo = -0.5 + margin
        with np.errstate(invalid="ignore"):  # NaN coordinates are outside
            return (
                (uv[:, 0] >= lo)
                & (uv[:, 0] < self.width - 0.5 - margin)
                & (uv[:, 1] >= lo)
                & (uv[:, 1] < self.height - 0.5 - margin)
            )

    @staticmethod
    def pixel_index(uv: np.ndarray) -> np.ndarray:
        """(N, 2) int64 (column i, row j) of the pixel each uv (N, 2) falls on: floor(uv + 0.5)."""
        return np.floor(np.asarray(uv, dtype=np.float64) + 0.5).astype(np.int64)

    def pixel_centers(self, dtype=np.float32) -> np.ndarray:
        """(H*W, 2) (u, v) = (column i, row j) of every pixel centre, row-major (pixel (i, j) at j*W + i)."""
        v, u = np.meshgrid(np.arange(self.height, dtype=dtype), np.arange(self.width, dtype=dtype), indexing="ij")
        return np.stack([u.reshape(-1), v.reshape(-1)], axis=1)

    def pixel_rays(self, uv=None):
        """Rays through pixels: the one pixel-to-ray of dvr, the inverse of :meth:`project` (ideal pinhole).

        uv: (N, 2) (u, v) pixel coordinates of the undistorted image, a numpy array or a torch tensor
        (rays on its device), or None for every pixel centre (:meth:`pixel_centers`, float32).
        Returns origins (N, 3) = C = -R^T t and dirs (N, 3) = normalise(R^T K^-1 [u, v, 1]), of uv's
        kind and float dtype (float32 for integer pixels). The maths runs in torch for numpy input
        too, so that every caller gets the fit's rays bit for bit (numpy's matmul and norm round
        differently).
        """
        import torch

        as_numpy = not isinstance(uv, torch.Tensor)
        pixels = torch.from_numpy(np.asarray(self.pixel_centers() if uv is None else uv)) if as_numpy else uv
        if pixels.ndim != 2 or pixels.shape[1] != 2:
            raise ValueError(f"pixels must be (N, 2) (u, v), got {tuple(pixels.shape)}")
        if not pixels.is_floating_point():
            pixels = pixels.float()
        cam = self.to_tensors(device=pixels.device, dtype=torch.float64)
        # Compose R^T K^-1 in float64 once; the per-ray product runs in the rays' dtype.
        pix_to_dir = (cam["R"].t() @ torch.linalg.inv(cam["K"])).to(pixels.dtype)
        homogeneous = torch.cat([pixels, torch.ones_like(pixels[:, :1])], dim=1)
        dirs = torch.nn.functional.normalize(homogeneous @ pix_to_dir.t(), dim=1)
        origins = (-cam["R"].t() @ cam["t"]).to(pixels.dtype).expand_as(dirs).contiguous()
        return (origins.numpy(), dirs.numpy()) if as_numpy else (origins, dirs)

    # ------------------------------------------------------------ transforms
    def resized(self, width: int, height: int) -> "Camera":
        """The same camera for an image resampled to ``width`` x ``height``.

        Pixel centres follow OpenCV: u' = (u + 0.5) * sx - 0.5 with sx = width / self.width.
        """
        sx, sy = width / self.width, height / self.height
        K = self.K.copy()
        K[0, 0] *= sx
        K[0, 1] *= sx
        K[1, 1] *= sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        return replace(self, K=K, width=width, height=height)

    def similarity(self, center: np.ndarray, scale: float) -> "Camera":
        """The camera in a frame where X_new = (X - center) / scale (projection unchanged)."""
        t = (self.R @ np.asarray(center, dtype=np.float64) + self.t) / scale
        return replace(self, t=t)

    def undistorted(self) -> "Camera":
        """The same camera with no distortion (for images already undistorted with K kept)."""
        return replace(self, dist=None)

    # ------------------------------------------------------------------- I/O
    def to_json(self, image: str | None = None, mask: str | None = None) -> dict:
        """This camera as one entry of dvr's cams.json (see shared/FORMATS.md)."""
        entry: dict = {"image": image if image is not None else self.name}
        if mask is not None:
            entry["mask"] = mask
        entry.update(
            width=self.width,
            height=self.height,
            K=self.K.tolist(),
            R=self.R.tolist(),
            t=self.t.tolist(),
        )
        if self.dist is not None:
            entry["dist"] = self.dist.tolist()
        return entry

    def to_tensors(self, device=None, dtype=None) -> dict:
        """K, R, t as torch tensors (for ray generation on ``device``)."""
        import torch

        dtype = dtype or torch.float32
        return {k: torch.as_tensor(getattr(self, k), dtype=dtype, device=device) for k in ("K", "R", "t")}


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0, 0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera (R, t) of an OpenCV camera at ``eye`` looking at ``target``.

    The image's up direction is as close to ``up`` as possible (camera y = down).
    """
    eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-8:  # looking along up: pick any perpendicular
        x = np.cross(z, [1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye
