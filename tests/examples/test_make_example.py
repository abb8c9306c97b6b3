"""The example scene generator: files, conventions, and every camera format against points.json.

Each format is converted back to an OpenCV projection by hand here (not with dvr's loaders), so
these tests pin down what the files mean independently of the code that reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import make_example as mx
from dvr_cli.runtime import open3d
from dvr_cli.scene.camera import Camera

VIEWS, SIZE = 8, (48, 40)


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("example") / "scene"
    return mx.make_example(out, views=VIEWS, size=SIZE, test_views=2, distorted=True, depth=True, colmap_points=80)


@pytest.fixture(scope="module")
def points(scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = json.loads((scene / "points.json").read_text())
    assert data["view"] == 0 and len(data["points"]) >= 10
    return np.array(data["points"]), np.array(data["pixels"]), np.array(data["depths"])


def load_cams(path: Path) -> list[Camera]:
    data = json.loads(path.read_text())
    assert data["convention"] == "opencv"
    return [
        Camera(c["K"], c["R"], c["t"], c["width"], c["height"], c.get("dist"), Path(c["image"]).name)
        for c in data["cameras"]
    ]


def pinhole(K: np.ndarray, R: np.ndarray, t: np.ndarray, X: np.ndarray) -> np.ndarray:
    Xc = X @ R.T + t
    return (Xc[:, :2] / Xc[:, 2:]) @ K[:2, :2].T + K[:2, 2]


def test_files(scene):
    for name in (
        "cams.json",
        "cameras.npz",
        "transforms.json",
        "mesh.ply",
        "points.json",
        "example.json",
        "test/cams.json",
        "distorted/cams.json",
        "colmap/sparse/0/cameras.txt",
        "colmap/sparse/0/images.txt",
        "colmap/sparse/0/points3D.txt",
    ):
        assert (scene / name).is_file(), name
    for folder, n in (("", VIEWS), ("test/", 2), ("distorted/", VIEWS)):
        data = json.loads((scene / folder / "cams.json").read_text())
        assert len(data["cameras"]) == n
        for cam in data["cameras"]:
            image = np.array(Image.open(scene / folder / cam["image"]))
            mask = np.array(Image.open(scene / folder / cam["mask"]))
            assert image.shape == (SIZE[1], SIZE[0], 3) and image.dtype == np.uint8
            assert mask.shape == SIZE[::-1] and set(np.unique(mask)) <= {0, 255}
            assert 0.1 < (mask > 0).mean() < 0.9  # the object is in view, not filling it
            assert (image[mask == 0] == 255).mean() > 0.95  # white background
        assert ("dist" in data["cameras"][0]) == (folder == "distorted/")
    # principal point off-centre, so a loader's half-pixel slip shows
    K = np.array(json.loads((scene / "cams.json").read_text())["cameras"][0]["K"])
    assert K[0, 2] == pytest.approx((SIZE[0] - 1) / 2 + 1.5) and K[1, 2] == pytest.approx((SIZE[1] - 1) / 2 - 1.0)


def test_mesh_and_bbox(scene):
    o3d = open3d()
    mesh = o3d.io.read_triangle_mesh(str(scene / "mesh.ply"))
    V, C = np.asarray(mesh.vertices), np.asarray(mesh.vertex_colors)
    assert 20_000 <= len(mesh.triangles) <= 60_000
    F = np.asarray(mesh.triangles)
    edges = np.sort(np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]]), axis=1)
    assert (np.unique(edges, axis=0, return_counts=True)[1] == 2).all()  # closed: every edge in two faces
    assert C.shape == V.shape and C.std() > 0.05  # coloured, not constant
    bbox = np.array(json.loads((scene / "cams.json").read_text())["bbox"])
    lo, hi = V.min(0), V.max(0)
    np.testing.assert_allclose(bbox[1] - bbox[0], 1.1 * (hi - lo), rtol=1e-9)
    np.testing.assert_allclose(bbox.mean(0), (lo + hi) / 2, atol=1e-9)
    assert np.abs(bbox).max() > 1.5 and not np.allclose((lo + hi) / 2, 0, atol=0.1)  # not the unit cube


def test_points_land_on_mask_at_their_depth(scene, points):
    """points.json projects through cams.json onto the object, and a ray cast through that
    pixel (built by hand from K, R, t) hits mesh.ply at the point's camera-z depth."""
    X, uv, z = points
    cam = load_cams(scene / "cams.json")[0]
    np.testing.assert_allclose(pinhole(cam.K, cam.R, cam.t, X), uv, atol=1e-9)
    np.testing.assert_allclose((X @ cam.R.T + cam.t)[:, 2], z, atol=1e-9)
    mask = np.array(Image.open(scene / "masks" / cam.name)) > 0
    i, j = np.round(uv).astype(int).T
    assert mask[j, i].all()

    o3d = open3d()
    raycast = o3d.t.geometry.RaycastingScene()
    raycast.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(o3d.io.read_triangle_mesh(str(scene / "mesh.ply"))))
    dirs = np.c_[(uv - cam.K[:2, 2]) / np.diag(cam.K)[:2], np.ones(len(uv))] @ cam.R  # camera z = 1
    rays = np.c_[np.broadcast_to(-cam.R.T @ cam.t, dirs.shape), dirs].astype(np.float32)
    t_hit = raycast.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    np.testing.assert_allclose(t_hit, z, atol=1e-3)

    # the depth maps agree at the nearest pixel centre (up to the surface slope over half a pixel)
    depth = np.load(scene / "depth" / "000.npy")
    assert depth.dtype == np.float32 and depth.shape == SIZE[::-1]
    assert np.median(np.abs(depth[j, i] - z)) < 0.02
    png = cv2.imread(str(scene / "depth" / "000.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16
    np.testing.assert_array_equal(png, np.round(depth * 1000).astype(np.uint16))


def test_idr_cameras_npz(scene, points):
    X, uv, _ = points
    npz = np.load(scene / "cameras.npz")
    P = npz["world_mat_0"]
    assert P.shape == (4, 4)
    x = np.c_[X, np.ones(len(X))] @ P[:3].T
    np.testing.assert_allclose(x[:, :2] / x[:, 2:], uv, atol=1e-6)
    K, R, C = cv2.decomposeProjectionMatrix(P[:3])[:3]
    cam = load_cams(scene / "cams.json")[0]
    np.testing.assert_allclose(K / K[2, 2], cam.K, atol=1e-6)
    np.testing.assert_allclose(npz["camera_mat_0"][:3, :3], cam.K)
    # scale_mat maps the unit sphere onto a world sphere holding the whole mesh
    S = npz["scale_mat_0"]
    V = np.asarray(open3d().io.read_triangle_mesh(str(scene / "mesh.ply")).vertices)
    unit = (np.c_[V, np.ones(len(V))] @ np.linalg.inv(S).T)[:, :3]
    assert 0.8 < np.linalg.norm(unit, axis=1).max() < 1.0
    assert all(np.array_equal(npz[f"scale_mat_{i}"], S) for i in range(VIEWS))


def test_nerfstudio_transforms(scene, points):
    X, uv, _ = points
    data = json.loads((scene / "transforms.json").read_text())
    assert len(data["frames"]) == VIEWS and (data["w"], data["h"]) == SIZE
    frame = data["frames"][0]
    assert frame["file_path"] == "images/000.png" and frame["mask_path"] == "masks/000.png"
    c2w_gl = np.array(frame["transform_matrix"])
    c2w_cv = c2w_gl @ np.diag([1.0, -1.0, -1.0, 1.0])  # OpenGL (y up, z back) -> OpenCV axes
    R = c2w_cv[:3, :3].T
    t = -R @ c2w_cv[:3, 3]
    # nerfstudio's pixel centres are at i + 0.5: subtract it to get OpenCV's cx, cy
    K = np.array([[data["fl_x"], 0, data["cx"] - 0.5], [0, data["fl_y"], data["cy"] - 0.5], [0, 0, 1]])
    np.testing.assert_allclose(pinhole(K, R, t, X), uv, atol=1e-6)


def _qvec_to_R(w, x, y, z) -> np.ndarray:
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def test_colmap_text_model(scene, points):
    X, uv, _ = points
    folder = scene / "colmap" / "sparse" / "0"
    cam_line = [ln for ln in (folder / "cameras.txt").read_text().splitlines() if not ln.startswith("#")][0].split()
    assert cam_line[1] == "PINHOLE" and (int(cam_line[2]), int(cam_line[3])) == SIZE
    fx, fy, cx, cy = map(float, cam_line[4:8])
    K = np.array([[fx, 0, cx - 0.5], [0, fy, cy - 0.5], [0, 0, 1]])  # COLMAP centres at i + 0.5
    lines = [ln for ln in (folder / "images.txt").read_text().splitlines() if not ln.startswith("#")]
    head = lines[0].split()
    assert head[0] == "1" and head[9] == "000.png"
    R, t = _qvec_to_R(*map(float, head[1:5])), np.array(list(map(float, head[5:8])))
    np.testing.assert_allclose(pinhole(K, R, t, X), uv, atol=1e-6)

    pycolmap = pytest.importorskip("pycolmap")
    rec = pycolmap.Reconstruction(str(folder))
    assert rec.num_images() == VIEWS and rec.num_points3D() > 20
    image = next(im for im in rec.images.values() if im.name == "000.png")
    pose = image.cam_from_world() if callable(image.cam_from_world) else image.cam_from_world
    np.testing.assert_allclose(pose.rotation.matrix(), R, atol=1e-9)
    # every 2D observation is the projection of its 3D point (COLMAP pixel convention)
    camera = rec.cameras[image.camera_id]
    for p2d in image.points2D:
        if p2d.has_point3D():
            xyz = rec.points3D[p2d.point3D_id].xyz
            np.testing.assert_allclose(camera.img_from_cam(pose * xyz)[:2], p2d.xy, atol=1e-6)


def test_supersampling_matches_a_render_at_twice_the_size():
    """2x2 supersampling area-averages rays at (i +- 1/4, j +- 1/4): exactly the pixel centres of
    the same camera resized to twice the size (Camera.resized follows OpenCV's convention)."""
    obj = mx.make_object()
    center, radius = obj.bounding_sphere()
    cam = mx.sphere_cameras(3, center, 3 * radius, (40, 32), 45.0)[1]
    small = mx.render_view(obj, cam, supersample=2)
    big = mx.render_view(obj, cam.resized(80, 64), supersample=1)
    pooled = big["rgb"].reshape(32, 2, 40, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(small["rgb"], pooled, atol=1e-5)
    np.testing.assert_allclose(small["coverage"], big["coverage"].reshape(32, 2, 40, 2).mean(axis=(1, 3)))


def test_distorted_views(scene, points):
    """Raw pixels see the rays of their undistorted coordinates: Camera.project(distort=True)
    lands a point on the raw pixel whose ray hits it, and cv2.undistort gives back the pinhole image."""
    X, _, z = points
    cam = load_cams(scene / "distorted" / "cams.json")[0]
    np.testing.assert_allclose(cam.dist, mx.DISTORTION)
    obj = mx.make_object()
    o, d = mx.pixel_rays(cam, cam.project(X, distort=True), distorted=True)
    np.testing.assert_allclose(obj.cast(o, d), z, atol=1e-3)

    errors = []
    for name in ("000.png", "003.png", "006.png"):
        raw = np.asarray(Image.open(scene / "distorted" / "images" / name), dtype=np.float32) / 255
        ref = np.asarray(Image.open(scene / "images" / name), dtype=np.float32) / 255
        errors.append(np.abs(cv2.undistort(raw, cam.K, cam.dist) - ref).mean())
    assert np.mean(errors) < 0.01  # measured 0.004-0.006 at 48x40 (interpolation at edges)


def test_deterministic(scene, tmp_path):
    again = mx.make_example(tmp_path / "again", views=VIEWS, size=SIZE, test_views=2, colmap_points=80)
    for name in (
        "images/000.png",
        "masks/005.png",
        "cams.json",
        "points.json",
        "test/images/test_001.png",
        "colmap/sparse/0/points3D.txt",
    ):
        assert (again / name).read_bytes() == (scene / name).read_bytes(), name
