"""Synthetic multi-view scene with known ground truth: the default input of dvr's demo and tests.

The object is the zero set of a procedural signed-distance-like function (a sphere deformed by
smooth bumps and a dent, with a handle fused on top: genus 1, one watertight surface), meshed by
marching cubes and placed in world units that are deliberately not the unit cube. Its colour
c(X) is a function of the world point only (albedo times a Lambertian term with a light fixed in
the world), so every view sees the same surface colour and ``mesh.ply`` carries c(v) at its
vertices.

Views are ray cast with open3d's ``RaycastingScene`` through OpenCV pixel centres
(shared/FORMATS.md) with s x s supersampling per pixel (area average), white background, and
mask = coverage >= 0.5. The same cameras are written in every format dvr reads (cams.json,
IDR ``cameras.npz``, nerfstudio ``transforms.json``, a COLMAP text model), so loaders can be
tested against ``points.json``: known surface points and where they land in view 0.

Usage:  python examples/make_example.py --out examples/data/example [--views 32 --size 128 ...]
Library: ``make_example(out, views=32, size=(128, 128), ...)`` (tests call it directly).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import mcubes
import numpy as np
from PIL import Image
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from dvr_cli.runtime import open3d
from dvr_cli.scene.camera import Camera, look_at

#: Where the object's local origin sits in the world, and world units per local unit.
OBJECT_CENTER = np.array([0.3, -0.2, 1.0])
OBJECT_SCALE = 1.0
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "example"
#: Fixed world light for the Lambertian term (unit vector towards the light) and its ambient share.
LIGHT_DIR = np.array([0.45, -0.35, 0.82]) / np.linalg.norm([0.45, -0.35, 0.82])
AMBIENT = 0.45
#: OpenCV distortion (k1, k2, p1, p2, k3) of the ``--distorted`` copy.
DISTORTION = np.array([-0.08, 0.02, 0.001, -0.001, 0.0])
#: Principal point offset from the image centre (pixels), so loaders' conventions are tested.
PRINCIPAL_OFFSET = (1.5, -1.0)
#: The bounding sphere's projected radius as a fraction of min(W, H): the object fills ~70%.
FILL = 0.42


# --------------------------------------------------------------------------------- the object
def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (a fillet of width ~k where two parts meet)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


# Local frame: body = sphere of radius 1 at the origin, bumps as (direction, amplitude, width).
_BUMPS = [
    ((1.0, 0.3, -0.2), 0.22, 0.55),
    ((-0.6, 0.8, 0.1), 0.16, 0.50),
    ((-0.3, -0.9, -0.4), 0.18, 0.45),
    ((0.2, 0.1, -1.0), 0.12, 0.70),
    ((-0.9, -0.3, 0.35), -0.30, 0.35),  # the dent: a concavity
]
_HANDLE_CENTER = np.array([0.0, 0.0, 0.92])  # torus in the xz plane (axis along y), fused on top
_HANDLE_RADII = (0.55, 0.14)


def _body_sdf(p: np.ndarray) -> np.ndarray:
    """(N, 3) local points -> (N,) approximate signed distance of the bumpy sphere (< 0 inside)."""
    r = np.linalg.norm(p, axis=1)
    n = p / np.maximum(r, 1e-9)[:, None]
    radius = np.ones_like(r)
    for direction, amplitude, width in _BUMPS:
        d = np.asarray(direction) / np.linalg.norm(direction)
        radius += amplitude * np.exp((n @ d - 1.0) / width**2)
    return (r - radius) * 0.8


def _handle_sdf(p: np.ndarray) -> np.ndarray:
    """(N, 3) local points -> (N,) signed distance of the torus handle."""
    q = p - _HANDLE_CENTER
    ring = np.hypot(q[:, 0], q[:, 2]) - _HANDLE_RADII[0]
    return np.hypot(ring, q[:, 1]) - _HANDLE_RADII[1]


def object_sdf(X: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N,) signed distance-like value in world units (< 0 inside)."""
    p = (np.asarray(X, dtype=np.float64) - OBJECT_CENTER) / OBJECT_SCALE
    return _smin(_body_sdf(p), _handle_sdf(p), 0.08) * OBJECT_SCALE


def object_normals(X: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """(N, 3) world points -> (N, 3) outward unit normals, the normalised central-difference gradient."""
    X = np.asarray(X, dtype=np.float64)
    h = eps * OBJECT_SCALE
    grad = np.stack([object_sdf(X + h * e) - object_sdf(X - h * e) for e in np.eye(3)], axis=1)
    return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)


def build_mesh(resolution: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of :func:`object_sdf` -> (vertices (V, 3) world, faces (F, 3) int, outward)."""
    lo = OBJECT_CENTER + OBJECT_SCALE * np.array([-1.45, -1.45, -1.45])
    hi = OBJECT_CENTER + OBJECT_SCALE * np.array([1.45, 1.45, 1.8])
    axes = [np.linspace(lo[i], hi[i], resolution) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    values = object_sdf(grid).reshape(resolution, resolution, resolution)
    verts, faces = mcubes.marching_cubes(values, 0.0)
    verts = lo + verts * (hi - lo) / (resolution - 1)
    faces = faces.astype(np.int64)
    a, b, c = (verts[faces[:, k]] for k in range(3))
    if np.einsum("ij,ij->", a, np.cross(b, c)) < 0:  # signed volume: make the normals point out
        faces = faces[:, ::-1].copy()
    return verts, faces


# ------------------------------------------------------------------------------------ colours
def smooth_albedo(X: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 3) low-frequency albedo: banded body, red-orange handle."""
    p = (np.asarray(X, dtype=np.float64) - OBJECT_CENTER) / OBJECT_SCALE
    x, y, z = p.T
    band = 0.5 + 0.5 * np.sin(2.4 * z + 1.2 * np.sin(1.6 * x) + 0.4)
    body = (1 - band)[:, None] * np.array([0.12, 0.50, 0.62]) + band[:, None] * np.array([0.96, 0.82, 0.32])
    tint = (0.5 + 0.5 * np.sin(1.4 * x - 1.1 * y + 0.3))[:, None]
    body = body * (1 - 0.35 * tint) + 0.35 * tint * np.array([0.80, 0.25, 0.45])
    handle_weight = 1.0 / (1.0 + np.exp(-np.clip((_body_sdf(p) - _handle_sdf(p)) / 0.03, -50, 50)))
    handle = np.array([0.90, 0.38, 0.16]) + 0.08 * np.sin(4.0 * x)[:, None]
    return np.clip(body * (1 - handle_weight)[:, None] + handle * handle_weight[:, None], 0.0, 1.0)


def make_fine_albedo(seed: int, vertices: np.ndarray, faces: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The smooth albedo plus high-frequency detail for feature matching.

    Random dots (3D discs around points sampled on the surface, random radius and shade) and a
    mottled noise of random-direction sinusoids; fixed by ``seed``.
    """
    rng = np.random.default_rng(seed)
    n_dots = 900
    area = 0.5 * np.linalg.norm(
        np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]]), axis=1
    )
    tri = rng.choice(len(faces), size=n_dots, p=area / area.sum())
    w = rng.dirichlet(np.ones(3), size=n_dots)
    centers = np.einsum("nk,nkd->nd", w, vertices[faces[tri]])
    radii = rng.uniform(0.03, 0.075, n_dots) * OBJECT_SCALE
    shades = rng.choice([0.08, 0.25, 1.0], size=(n_dots, 1), p=[0.5, 0.25, 0.25]) * rng.uniform(0.7, 1.0, (n_dots, 3))
    tree = cKDTree(centers)
    directions = rng.normal(size=(8, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    frequencies = rng.uniform(9.0, 22.0, 8) / OBJECT_SCALE
    phases = rng.uniform(0, 2 * np.pi, 8)

    def fine_albedo(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        base = smooth_albedo(X)
        noise = np.sin(X @ (directions * frequencies[:, None]).T + phases).mean(axis=1)
        base = np.clip(base * (1.0 + 0.25 * noise)[:, None], 0.0, 1.0)
        dist, idx = tree.query(X, k=1)
        dot = np.clip((radii[idx] - dist) / (0.15 * radii[idx]), 0.0, 1.0)[:, None]  # soft edge
        return base * (1 - dot) + shades[idx] * dot

    return fine_albedo


def shade(X: np.ndarray, albedo: np.ndarray) -> np.ndarray:
    """Albedo times a Lambertian term with the world-fixed light: c(X) = a (k + (1-k) max(0, n.l))."""
    lambert = np.clip(object_normals(X) @ LIGHT_DIR, 0.0, None)
    return np.clip(albedo * (AMBIENT + (1 - AMBIENT) * lambert)[:, None], 0.0, 1.0)


@dataclass
class ColoredMesh:
    """A triangle mesh in world units with a colour function of the world point.

    Attributes:
        vertices: (V, 3) float64 world coordinates.
        faces: (F, 3) int64 vertex indices (outward, counter-clockwise).
        color_fn: (N, 3) world points -> (N, 3) RGB in [0, 1] (viewpoint independent).
    """

    vertices: np.ndarray
    faces: np.ndarray
    color_fn: Callable[[np.ndarray], np.ndarray]

    def __post_init__(self):
        o3d = open3d()
        mesh = o3d.t.geometry.TriangleMesh()
        mesh.vertex.positions = o3d.core.Tensor(self.vertices.astype(np.float32))
        mesh.triangle.indices = o3d.core.Tensor(self.faces.astype(np.int32))
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(mesh)

    def cast(self, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """(N, 3) origins, (N, 3) directions -> (N,) ray parameter of the first hit (inf on miss).

        Directions need not be unit: the hit is at origins + t * dirs.
        """
        rays = np.concatenate([origins, dirs], axis=1).astype(np.float32)
        hits = self._scene.cast_rays(open3d().core.Tensor(rays))
        return hits["t_hit"].numpy().astype(np.float64)

    def bbox(self) -> np.ndarray:
        """(2, 3) world bounding box [min, max] of the vertices."""
        return np.stack([self.vertices.min(0), self.vertices.max(0)])

    def bounding_sphere(self) -> tuple[np.ndarray, float]:
        """Centre (the bbox centre) and radius of a sphere enclosing the mesh."""
        center = self.bbox().mean(0)
        return center, float(np.linalg.norm(self.vertices - center, axis=1).max())

    def sample_surface(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 3) points drawn uniformly by area on the surface."""
        v = self.vertices[self.faces]
        area = 0.5 * np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1)
        tri = rng.choice(len(self.faces), size=n, p=area / area.sum())
        w = rng.dirichlet(np.ones(3), size=n)
        return np.einsum("nk,nkd->nd", w, v[tri])


def make_object(texture: str = "smooth", seed: int = 0, resolution: int = 96) -> ColoredMesh:
    """The example object: ~40k triangles, world centre ~(0.3, -0.2, 1.2), size ~2.4 x 2.3 x 2.6."""
    if texture not in ("smooth", "fine"):
        raise ValueError(f"texture must be 'smooth' or 'fine', not {texture!r}")
    vertices, faces = build_mesh(resolution)
    albedo = smooth_albedo if texture == "smooth" else make_fine_albedo(seed, vertices, faces)
    return ColoredMesh(vertices, faces, lambda X: shade(X, albedo(X)))


# ----------------------------------------------------------------------------------- rendering
def pixel_rays(camera: Camera, pixels: np.ndarray, distorted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) pixel positions (u, v), OpenCV convention -> world rays (origins (N, 3), dirs (N, 3)).

    dirs = R^T (x, y, 1) with (x, y) the normalised image coordinate, so the ray parameter of a
    hit is its camera-z depth. With ``distorted`` the pixels are raw (distorted) positions of
    ``camera.dist`` and are undistorted first (cv2.undistortPoints, iterated to 1e-12).
    """
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    if distorted and camera.dist is not None:
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
        xy = cv2.undistortPoints(pixels[:, None, :], camera.K, camera.dist, criteria=criteria)[:, 0, :]
    else:
        xy = (pixels - camera.K[:2, 2]) @ np.linalg.inv(camera.K[:2, :2]).T
    dirs = np.concatenate([xy, np.ones((len(xy), 1))], axis=1) @ camera.R
    return np.broadcast_to(camera.center, dirs.shape).copy(), dirs


def render_view(
    obj: ColoredMesh,
    camera: Camera,
    supersample: int = 2,
    distorted: bool = False,
    depth: bool = False,
    background: float = 1.0,
) -> dict[str, np.ndarray]:
    """Ray cast one view with ``supersample``^2 rays per pixel, area-averaged.

    Sub-pixel rays of pixel (i, j) go through (i + o, j + o') with o, o' in (k + 0.5) / s - 0.5.
    Returns ``rgb`` (H, W, 3) float32 in [0, 1] over ``background``, ``coverage`` (H, W) float32
    (fraction of sub-rays that hit), ``mask`` (H, W) bool = coverage >= 0.5, and with ``depth``
    ``depth`` (H, W) float32 camera-z of the ray through the pixel centre (0 on miss).
    """
    W, H, s = camera.width, camera.height, supersample
    offsets = (np.arange(s) + 0.5) / s - 0.5
    u = (np.arange(W)[:, None] + offsets).reshape(-1)  # (W*s,), sub-columns in order
    v = (np.arange(H)[:, None] + offsets).reshape(-1)
    uu, vv = np.meshgrid(u, v)  # (H*s, W*s)
    origins, dirs = pixel_rays(camera, np.stack([uu.ravel(), vv.ravel()], axis=1), distorted)
    t = obj.cast(origins, dirs)
    hit = np.isfinite(t)
    rgb = np.full((len(t), 3), background, dtype=np.float64)
    rgb[hit] = obj.color_fn(origins[hit] + t[hit, None] * dirs[hit])
    rgb = rgb.reshape(H, s, W, s, 3).mean(axis=(1, 3))
    coverage = hit.reshape(H, s, W, s).mean(axis=(1, 3))
    out = {"rgb": rgb.astype(np.float32), "coverage": coverage.astype(np.float32), "mask": coverage >= 0.5}
    if depth:
        jj, ii = np.mgrid[0:H, 0:W]
        o, d = pixel_rays(camera, np.stack([ii.ravel(), jj.ravel()], axis=1).astype(np.float64), distorted)
        z = obj.cast(o, d)
        out["depth"] = np.where(np.isfinite(z), z, 0.0).reshape(H, W).astype(np.float32)
    return out


# ------------------------------------------------------------------------------------- cameras
def sphere_cameras(
    n: int,
    center: np.ndarray,
    distance: float,
    size: tuple[int, int],
    focal: float,
    elevation: tuple[float, float] = (-20.0, 70.0),
    azimuth_offset: float = 0.0,
    prefix: str = "",
) -> list[Camera]:
    """``n`` cameras on a Fibonacci spiral (uniform by area in the elevation band, degrees),
    ``distance`` from ``center``, looking at it with world z up."""
    W, H = size
    K = np.array(
        [[focal, 0, (W - 1) / 2 + PRINCIPAL_OFFSET[0]], [0, focal, (H - 1) / 2 + PRINCIPAL_OFFSET[1]], [0, 0, 1.0]]
    )
    lo, hi = np.sin(np.radians(elevation))
    golden = np.pi * (3.0 - np.sqrt(5.0))
    cameras = []
    for k in range(n):
        sin_el = lo + (hi - lo) * (k + 0.5) / n
        az = k * golden + np.radians(azimuth_offset)
        cos_el = np.sqrt(1.0 - sin_el**2)
        eye = center + distance * np.array([cos_el * np.cos(az), cos_el * np.sin(az), sin_el])
        R, t = look_at(eye, center, up=(0, 0, 1))
        cameras.append(Camera(K.copy(), R, t, W, H, name=f"{prefix}{k:03d}.png"))
    return cameras


# ------------------------------------------------------------------------------------- writers
def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(path)


def _write_mask(path: Path, mask: np.ndarray) -> None:
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)


def _num(x) -> str:
    """A float at full precision for COLMAP's text files."""
    return repr(float(x))


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1))


def write_views(
    obj: ColoredMesh,
    cameras: list[Camera],
    folder: Path,
    bbox: np.ndarray,
    supersample: int,
    distorted: bool = False,
    depth: bool = False,
) -> list[dict]:
    """Render ``cameras`` into ``folder``/{images,masks[,depth]} plus ``folder``/cams.json."""
    for sub in ("images", "masks") + (("depth",) if depth else ()):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    renders = []
    for cam in cameras:
        r = render_view(obj, cam, supersample, distorted=distorted, depth=depth)
        _write_rgb(folder / "images" / cam.name, r["rgb"])
        _write_mask(folder / "masks" / cam.name, r["mask"])
        if depth:
            stem = Path(cam.name).stem
            np.save(folder / "depth" / f"{stem}.npy", r["depth"])
            mm = np.clip(np.round(r["depth"] * 1000.0), 0, 65535).astype(np.uint16)
            cv2.imwrite(str(folder / "depth" / f"{stem}.png"), mm)
        renders.append(r)
    _write_json(
        folder / "cams.json",
        {
            "convention": "opencv",
            "cameras": [c.to_json(f"images/{c.name}", f"masks/{c.name}") for c in cameras],
            "bbox": bbox.tolist(),
        },
    )
    return renders


def write_idr(path: Path, cameras: list[Camera], scale_mat: np.ndarray) -> None:
    """IDR / DTU ``cameras.npz``: world_mat_i = [K[R|t]; 0 0 0 1], camera_mat_i = K (4x4), scale_mat_i."""
    arrays = {}
    for i, cam in enumerate(cameras):
        P = np.eye(4)
        P[:3, :4] = cam.K @ np.concatenate([cam.R, cam.t[:, None]], axis=1)
        K4 = np.eye(4)
        K4[:3, :3] = cam.K
        arrays[f"world_mat_{i}"] = P
        arrays[f"camera_mat_{i}"] = K4
        arrays[f"scale_mat_{i}"] = scale_mat
    np.savez(path, **arrays)


def write_nerfstudio(path: Path, cameras: list[Camera]) -> None:
    """nerfstudio ``transforms.json``: camera-to-world in OpenGL axes, pixel centres at i + 0.5."""
    K = cameras[0].K
    frames = []
    for cam in cameras:
        c2w = np.eye(4)
        c2w[:3, :3] = cam.R.T @ np.diag([1.0, -1.0, -1.0])  # OpenCV -> OpenGL camera axes
        c2w[:3, 3] = cam.center
        frames.append(
            {"file_path": f"images/{cam.name}", "mask_path": f"masks/{cam.name}", "transform_matrix": c2w.tolist()}
        )
    _write_json(
        path,
        {
            "camera_model": "OPENCV",
            "fl_x": K[0, 0],
            "fl_y": K[1, 1],
            "cx": K[0, 2] + 0.5,
            "cy": K[1, 2] + 0.5,
            "w": cameras[0].width,
            "h": cameras[0].height,
            "frames": frames,
        },
    )


def write_colmap(
    folder: Path, obj: ColoredMesh, cameras: list[Camera], rng: np.random.Generator, n_points: int = 300
) -> None:
    """COLMAP text model (one PINHOLE camera, pixel centres at i + 0.5) with surface points whose
    tracks are the views that see them unoccluded."""
    folder.mkdir(parents=True, exist_ok=True)
    K, W, H = cameras[0].K, cameras[0].width, cameras[0].height
    (folder / "cameras.txt").write_text(
        "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
        f"1 PINHOLE {W} {H} " + " ".join(map(_num, (K[0, 0], K[1, 1], K[0, 2] + 0.5, K[1, 2] + 0.5))) + "\n"
    )
    X = obj.sample_surface(n_points, rng)
    colors = np.round(obj.color_fn(X) * 255).astype(int)
    pixels, seen = [], []  # per camera: (N, 2) OpenCV pixels, (N,) unoccluded and in the image
    for cam in cameras:
        uv = cam.project(X)
        o, d = pixel_rays(cam, uv)
        inside = (uv[:, 0] > -0.5) & (uv[:, 0] < W - 0.5) & (uv[:, 1] > -0.5) & (uv[:, 1] < H - 0.5)
        pixels.append(uv)
        seen.append(inside & (np.abs(obj.cast(o, d) - cam.world_to_camera(X)[:, 2]) < 1e-3 * OBJECT_SCALE))
    seen_by = np.array(seen)
    seen_by &= seen_by.sum(axis=0) >= 2  # a COLMAP track needs two views
    observations: list[list[tuple[float, float, int]]] = [[] for _ in cameras]
    tracks: list[list[tuple[int, int]]] = [[] for _ in X]
    for ci, uv in enumerate(pixels):
        for pi in np.flatnonzero(seen_by[ci]):
            tracks[pi].append((ci + 1, len(observations[ci])))
            observations[ci].append((uv[pi, 0] + 0.5, uv[pi, 1] + 0.5, pi + 1))
    lines = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
    ]
    for ci, cam in enumerate(cameras):
        qx, qy, qz, qw = Rotation.from_matrix(cam.R).as_quat()
        lines.append(f"{ci + 1} " + " ".join(map(_num, (qw, qx, qy, qz, *cam.t))) + f" 1 {cam.name}")
        lines.append(" ".join(f"{_num(x)} {_num(y)} {p}" for x, y, p in observations[ci]))
    (folder / "images.txt").write_text("\n".join(lines) + "\n")
    points = [
        "# 3D point list with one line of data per point:",
        "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
    ]
    for pi, (p, c, track) in enumerate(zip(X, colors, tracks)):
        if track:
            points.append(
                f"{pi + 1} {' '.join(map(_num, p))} {c[0]} {c[1]} {c[2]} 0.0 " + " ".join(f"{i} {k}" for i, k in track)
            )
    (folder / "points3D.txt").write_text("\n".join(points) + "\n")


def write_mesh(path: Path, obj: ColoredMesh) -> None:
    """Binary PLY of the mesh with vertex colours c(v) (uint8) and vertex normals."""
    o3d = open3d()
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(obj.vertices), o3d.utility.Vector3iVector(obj.faces.astype(np.int32))
    )
    mesh.vertex_colors = o3d.utility.Vector3dVector(obj.color_fn(obj.vertices))
    mesh.vertex_normals = o3d.utility.Vector3dVector(object_normals(obj.vertices))
    o3d.io.write_triangle_mesh(str(path), mesh, write_ascii=False, compressed=False, print_progress=False)


def known_points(obj: ColoredMesh, camera: Camera, rng: np.random.Generator, n: int = 24) -> dict:
    """Surface points seen by ``camera`` well inside its silhouette, with their pixels and depths."""
    X = obj.sample_surface(40 * n, rng)
    uv = camera.project(X)
    z = camera.world_to_camera(X)[:, 2]
    o, d = pixel_rays(camera, uv)
    visible = np.abs(obj.cast(o, d) - z) < 1e-4 * OBJECT_SCALE
    # keep points whose 3x3 pixel neighbourhood is all object (robust to mask rounding at edges)
    ring = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], dtype=np.float64)
    for offset in ring:
        o2, d2 = pixel_rays(camera, np.round(uv) + offset)
        visible &= np.isfinite(obj.cast(o2, d2))
    keep = np.flatnonzero(visible)[:n]
    return {
        "view": 0,
        "image": f"images/{camera.name}",
        "convention": "opencv pixel centres at integers",
        "points": X[keep].tolist(),
        "pixels": uv[keep].tolist(),
        "depths": z[keep].tolist(),
    }


# ---------------------------------------------------------------------------------------- main
def make_example(
    out: Path | str,
    views: int = 32,
    size: tuple[int, int] = (128, 128),
    texture: str = "smooth",
    test_views: int = 6,
    distorted: bool = False,
    depth: bool = False,
    seed: int = 0,
    supersample: int = 2,
    colmap_points: int = 300,
) -> Path:
    """Write the example scene into ``out`` and return ``out``.

    ``out`` is replaced if it holds an earlier example (its example.json); any other non-empty
    folder is refused.

    Layout: images/, masks/, cams.json (with bbox), cameras.npz (IDR), transforms.json
    (nerfstudio), colmap/sparse/0/*.txt, mesh.ply (ground truth, world units, vertex colours),
    points.json (known points of view 0), test/{images,masks,cams.json}, example.json (the
    parameters and ground truth numbers), and with ``distorted`` distorted/{images,masks,cams.json},
    with ``depth`` depth/NNN.{png (uint16, world units x 1000), npy (float32)} (also in test/).
    """
    out = Path(out)
    W, H = size
    if out.exists():
        if any(out.iterdir()) and not (out / "example.json").is_file():
            raise FileExistsError(f"{out} exists and is not an example scene: refusing to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    obj = make_object(texture, seed)
    center, radius = obj.bounding_sphere()
    lo, hi = obj.bbox()
    bbox = np.stack([center - 0.55 * (hi - lo), center + 0.55 * (hi - lo)])  # 10% larger
    distance = 3.0 * radius
    focal = FILL * min(W, H) / np.tan(np.arcsin(radius / distance))
    train = sphere_cameras(views, center, distance, (W, H), focal)
    test = sphere_cameras(
        test_views, center, distance, (W, H), focal, elevation=(-10.0, 55.0), azimuth_offset=71.0, prefix="test_"
    )

    write_views(obj, train, out, bbox, supersample, depth=depth)
    write_views(obj, test, out / "test", bbox, supersample, depth=depth)
    if distorted:
        dist_cams = [Camera(c.K, c.R, c.t, W, H, dist=DISTORTION, name=c.name) for c in train]
        write_views(obj, dist_cams, out / "distorted", bbox, supersample, distorted=True)

    scale_mat = np.diag([1.1 * radius] * 3 + [1.0])
    scale_mat[:3, 3] = center
    write_idr(out / "cameras.npz", train, scale_mat)
    write_nerfstudio(out / "transforms.json", train)
    write_colmap(out / "colmap" / "sparse" / "0", obj, train, rng, colmap_points)
    write_mesh(out / "mesh.ply", obj)
    _write_json(out / "points.json", known_points(obj, train[0], rng))
    _write_json(
        out / "example.json",
        {
            "views": views,
            "test_views": test_views,
            "size": [W, H],
            "texture": texture,
            "seed": seed,
            "supersample": supersample,
            "distorted": distorted,
            "depth": depth,
            "mesh_bbox": [lo.tolist(), hi.tolist()],
            "bounding_sphere": {"center": center.tolist(), "radius": radius},
            "camera_distance": distance,
            "focal": focal,
            "light_dir": LIGHT_DIR.tolist(),
            "dist": DISTORTION.tolist(),
            "n_vertices": len(obj.vertices),
            "n_faces": len(obj.faces),
        },
    )
    return out


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, _, h = text.lower().partition("x")
        return int(w), int(h or w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, not {text!r}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder, replaced (examples/data/example)")
    parser.add_argument("--views", type=int, default=32, help="training views (default 32)")
    parser.add_argument("--test-views", type=int, default=6, help="held-out views (default 6)")
    parser.add_argument("--size", type=_parse_size, default=(128, 128), help="N or WxH (default 128)")
    parser.add_argument("--texture", choices=("smooth", "fine"), default="smooth", help="fine: dots + noise for SfM")
    parser.add_argument("--distorted", action="store_true", help="also write distorted/ (OpenCV k1..p2)")
    parser.add_argument("--depth", action="store_true", help="also write depth/ (uint16 PNG x1000 and float32 npy)")
    parser.add_argument("--supersample", type=int, default=2, help="s x s rays per pixel (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = make_example(
        args.out,
        args.views,
        args.size,
        args.texture,
        args.test_views,
        args.distorted,
        args.depth,
        args.seed,
        args.supersample,
    )
    print(f"wrote {out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
