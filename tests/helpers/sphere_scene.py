"""A tiny analytic scene for the fitting tests: a coloured sphere seen by a tilted ring of cameras."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from dvr_cli.config import FitConfig
from dvr_cli.scene.camera import Camera, look_at
from dvr_cli.scene.types import Normalization, Scene, View

CENTER = np.array([0.3, -0.2, 1.0])  # world position of the sphere: deliberately not the origin
RADIUS = 0.6
SCALE = 1.0  # normalisation: the unit cube spans CENTER +- 1


def sphere_colour(points: np.ndarray) -> np.ndarray:
    """(N, 3) world surface points -> (N, 3) colour 0.5 + 0.4 * normal."""
    return 0.5 + 0.4 * (points - CENTER) / RADIUS


def tilted_ring(n: int, size: int, distance: float = 3.0) -> list[Camera]:
    """``n`` cameras on a tilted ring around CENTER, looking at it, ``size`` x ``size`` pixels."""
    cams = []
    f = size * 1.2
    K = [[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]]
    for i in range(n):
        a = 2 * np.pi * i / n
        eye = CENTER + distance * np.array([np.cos(a), np.sin(a), 0.4 * np.sin(3 * a) + 0.3])
        R, t = look_at(eye, CENTER)
        cams.append(Camera(K, R, t, size, size, name=f"{i:03d}.png"))
    return cams


def render_sphere(camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast the sphere: image (H, W, 3) on white, mask (H, W) bool, z depth (H, W) (0 on miss)."""
    v, u = np.mgrid[0 : camera.height, 0 : camera.width]
    pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)
    dirs = pix @ np.linalg.inv(camera.K).T @ camera.R  # R^T K^-1 [u v 1], per row
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    oc = camera.center - CENTER
    b = dirs @ oc
    disc = b**2 - (oc @ oc - RADIUS**2)
    hit = disc > 0
    t = np.where(hit, -b - np.sqrt(np.maximum(disc, 0)), 0.0)
    points = camera.center + t[:, None] * dirs
    image = np.ones((u.size, 3))
    image[hit] = sphere_colour(points[hit])
    z = np.where(hit, camera.world_to_camera(points)[:, 2], 0.0)
    shape = (camera.height, camera.width)
    return image.reshape(*shape, 3).astype(np.float32), hit.reshape(shape), z.reshape(shape).astype(np.float32)


def make_scene(n_views: int = 6, size: int = 24, depth: bool = False) -> Scene:
    views = []
    for cam in tilted_ring(n_views, size):
        image, mask, z = render_sphere(cam)
        views.append(View(cam, image, mask, z if depth else None, Path(cam.name)))
    return Scene(views, Normalization(CENTER, SCALE, "bbox"))


def write_scene_files(scene: Scene, folder: Path) -> Path:
    """images/, masks/ and a dvr cams.json for ``scene``; returns the cams.json path."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    entries = []
    for view in scene.views:
        name = view.camera.name
        Image.fromarray((view.image * 255).round().astype(np.uint8)).save(folder / "images" / name)
        Image.fromarray(view.mask.astype(np.uint8) * 255).save(folder / "masks" / name)
        entries.append(view.camera.to_json(f"images/{name}", f"masks/{name}"))
    bbox = [(CENTER - SCALE).tolist(), (CENTER + SCALE).tolist()]
    path = folder / "cams.json"
    path.write_text(json.dumps({"convention": "opencv", "cameras": entries, "bbox": bbox}))
    return path


def tiny_config(**overrides) -> FitConfig:
    """A fit of a few seconds on CPU."""
    values = dict(
        iters=6,
        rays_per_step=128,
        views_per_step=2,
        grid_resolutions=[8, 16],
        hash_resolutions=[],
        mlp_hidden=16,
        samples_schedule=[[0, 16], [0.5, 24]],
        occ_grid_res=16,
        occ_grid_every=4,
        device="cpu",
        checkpoint_every_s=120,
        preview_every_s=1e9,
        lr=1e-2,
    )
    values.update(overrides)
    return FitConfig.from_preset("fast", **values)
