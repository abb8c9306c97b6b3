"""A cup for fitting tests: a block with a square pit in its top, in photos with a dotted
texture (features to match) from cameras above the rim. No silhouette shows the pit (the rim
always encloses it), so the masks alone leave it full; the views see its floor and walls.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from box_scene import ring
from dvr_cli.render.mesh import cast_camera, raycasting_scene
from dvr_cli.scene.types import Normalization, Scene, View

#: The block and the pit (x, y within +-PIT, z from PIT_FLOOR up to TOP).
HALF, BOTTOM, TOP = 0.6, -0.4, 0.4
PIT, PIT_FLOOR = 0.35, -0.1
N_DOTS = 6000  # the texture's dots


def _box(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [(a, b, c) for a, b, c, d in quads] + [(a, c, d) for a, b, c, d in quads]
    return corners, np.array(faces)


def cup_mesh() -> tuple[np.ndarray, np.ndarray]:
    """(verts, faces) of the cup: a floor slab and four walls (overlapping boxes)."""
    h, p = HALF, PIT
    boxes = [
        ((-h, -h, BOTTOM), (h, h, PIT_FLOOR)),
        ((-h, -h, PIT_FLOOR), (-p, h, TOP)),
        ((p, -h, PIT_FLOOR), (h, h, TOP)),
        ((-p, -h, PIT_FLOOR), (p, -p, TOP)),
        ((-p, p, PIT_FLOOR), (p, h, TOP)),
    ]
    verts, faces = [], []
    for lo, hi in boxes:
        v, f = _box(lo, hi)
        faces.append(f + 8 * len(verts))
        verts.append(v)
    return np.concatenate(verts), np.concatenate(faces)


def texture(points: np.ndarray) -> np.ndarray:
    """(N, 3) points -> (N, 3) colour in [0, 1]: a smooth colour with random dark and bright dots
    (balls of radius 0.03-0.06 around random points of the block cut by the surface), fixed."""
    rng = np.random.default_rng(0)
    centres = rng.uniform([-HALF, -HALF, BOTTOM], [HALF, HALF, TOP], size=(N_DOTS, 3))
    radii = rng.uniform(0.03, 0.06, N_DOTS)
    shades = rng.choice([0.05, 0.3, 1.0], size=(N_DOTS, 1)) * rng.uniform(0.7, 1.0, (N_DOTS, 3))
    dist, idx = cKDTree(centres).query(points)
    dot = (dist < radii[idx])[:, None]
    return np.where(dot, shades[idx], 0.5 + 0.3 * np.sin(2.5 * points + np.array([0.0, 2.0, 4.0])))


def make_cup_scene(n_views: int = 20, size: int = 128) -> Scene:
    """The cup photographed from ``n_views`` cameras on a ring above its rim, on white."""
    verts, faces = cup_mesh()
    scene = raycasting_scene(verts, faces)
    views = []
    for cam in ring(n_views, distance=2.8, size=size, focal=1.5 * size, elevations=(0.75, 1.05)):
        hits = cast_camera(scene, cam)
        mask = np.isfinite(hits.distance)
        image = np.ones((cam.height, cam.width, 3), np.float32)
        v, u = np.nonzero(mask)
        _, dirs = cam.pixel_rays(np.stack([u, v], 1).astype(np.float64))
        image[v, u] = texture(cam.center + hits.distance[v, u, None] * dirs)
        views.append(View(cam, image, mask, None, None))
    return Scene(views, Normalization(np.zeros(3), 1.0, "bbox"))
