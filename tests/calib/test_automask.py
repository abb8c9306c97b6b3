"""Automatic masks: a synthetic object cut by the image border with a part the colour of the
background, the table plane, a plinth's top that is not the table, the contact sheet, the
confidence file, and one real DTU capture."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dvr_cli.calib import automask
from dvr_cli.calib.automask import auto_masks, read_confidence, table_plane, write_confidence, write_masks
from dvr_cli.calib.contact import contact_sheet
from dvr_cli.calib.scene_masks import mask_scene
from dvr_cli.scene import Scene, View
from dvr_cli.scene.normalise import from_cameras
from make_example import ColoredMesh, make_object, render_view, shade, smooth_albedo, sphere_cameras
from tabletop_scene import plinth_scene, render, surface_points, tabletop_cameras

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
#: Near-white paint on the object's top: within 10% of the white background.
PALE = 0.9


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def floor_views(cameras, height: float, centre: np.ndarray, half: float, seed: int = 1) -> list[np.ndarray]:
    """Per camera (H, W, 3) uint8: a random-textured floor z = ``height`` spanning ``centre`` +- ``half``."""
    rng = np.random.default_rng(seed)
    floor = cv2.resize(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), (512, 512), interpolation=cv2.INTER_LINEAR)
    views = []
    for cam in cameras:
        u, v = np.meshgrid(np.arange(cam.width, dtype=float), np.arange(cam.height, dtype=float))
        rays = np.stack([(u - cam.K[0, 2]) / cam.K[0, 0], (v - cam.K[1, 2]) / cam.K[1, 1], np.ones_like(u)], -1) @ cam.R
        X = cam.center + ((height - cam.center[2]) / rays[..., 2])[..., None] * rays
        ij = np.clip(((X[..., :2] - centre[:2] + half) / (2 * half) * 511).round().astype(int), 0, 511)
        views.append(floor[ij[..., 1], ij[..., 0]])
    return views


@pytest.fixture(scope="module")
def cut_scene():
    """The example object on a random-textured table, its top painted PALE (the colour of some
    of the table's texels), seen by 20 close cameras at 128x96 so most views cut it at the
    border; 500 surface points stand in for SfM points."""
    base = make_object("smooth")
    top = np.percentile(base.vertices[:, 2], 75)

    def color(X: np.ndarray) -> np.ndarray:
        return np.where(X[:, 2:] > top, PALE, shade(X, smooth_albedo(X)))

    obj = ColoredMesh(base.vertices, base.faces, color)
    center, radius = obj.bounding_sphere()
    W, H = 128, 96
    focal = 0.62 * W / np.tan(np.arcsin(radius / (2.6 * radius)))  # the bounding sphere overfills the frame
    cameras = sphere_cameras(20, center, 2.6 * radius, (W, H), focal, elevation=(15.0, 60.0))
    views = [render_view(obj, cam, supersample=1) for cam in cameras]
    floors = floor_views(cameras, base.vertices[:, 2].min(), center, 4 * radius)
    images = [
        np.where(v["mask"][..., None], np.round(v["rgb"] * 255), f).astype(np.uint8) for v, f in zip(views, floors)
    ]
    truth = [v["mask"] for v in views]
    points = obj.sample_surface(500, np.random.default_rng(0))
    return images, cameras, points, truth


@pytest.mark.slow
def test_masks_of_an_object_cut_by_the_border_and_pale_in_places(cut_scene):
    images, cameras, points, truth = cut_scene
    cut = sum(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any() for m in truth)
    assert cut >= 0.75 * len(truth), cut  # the scene is what the test claims
    result = auto_masks(images, cameras, points)
    scores = [iou(m, t) for m, t in zip(result.masks, truth)]
    assert np.mean(scores) >= 0.95 and min(scores) >= 0.85, np.round(scores, 3)
    assert result.confidence.shape == (len(images),) and np.all((result.confidence > 0) & (result.confidence <= 1))


def test_table_plane_under_an_object_on_a_textured_table():
    """A random-textured floor z = 0 under a box of points: the plane found is the floor."""
    cameras = sphere_cameras(12, np.zeros(3), 4.0, (96, 72), 80.0, elevation=(30.0, 60.0))
    images = floor_views(cameras, 0.0, np.zeros(3), 2.0)
    box = np.random.default_rng(1).uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 1.0], (300, 3))
    plane = table_plane(images, cameras, box)
    assert plane is not None
    tilt = np.degrees(np.arccos(abs(plane[2])))
    assert tilt < 3 and abs(plane[3] / plane[2]) < 0.05, (tilt, plane)


def test_contact_sheet_and_confidence_file(cut_scene, tmp_path):
    images, _, _, truth = cut_scene
    sheet = contact_sheet(
        images[:10], truth[:10], [f"{k:03d}" for k in range(10)], np.linspace(0.5, 1, 10), thumb_width=64, columns=4
    )
    assert sheet.shape == (3 * 48, 4 * 64, 3)
    # the outline of a low-confidence mask is red, of a trusted one green
    first, last = sheet[:48, :64].reshape(-1, 3), sheet[96:144, 64:128].reshape(-1, 3)
    assert np.any(np.all(first == (255, 40, 40), axis=1)) and not np.any(np.all(first == (0, 255, 0), axis=1))
    assert np.any(np.all(last == (0, 255, 0), axis=1))
    write_confidence(tmp_path, ["a.jpg", "b.png"], np.array([0.91234, 0.5]))
    assert read_confidence(tmp_path) == {"a": 0.9123, "b": 0.5}
    assert read_confidence(tmp_path / "nothing") == {}
    written = write_masks(truth[:2], ["x.jpg", "y.jpg"], tmp_path / "masks")
    assert (np.asarray(Image.open(written[1])) > 127).sum() == truth[1].sum()


@pytest.mark.slow
def test_dtu_scan24_photos_only(tmp_path):
    """DTU scan 24 (a building cut by the border on a white table), 25 photos at 200x150, photos only."""
    folder = SHARED_DATA / "dtu_scan24_400"
    if not folder.is_dir():
        pytest.skip(f"real data {folder} is absent (it lives beside the checkout in shared/data)")
    from dvr_cli.calib.pipeline import CONTACT_SHEET, calibrate_photos

    photos = sorted((folder / "image").glob("*.png"))[::2]
    hand = {}
    (tmp_path / "photos").mkdir()
    masks = sorted((folder / "mask").glob("*.png"))[::2]
    for path, mask in zip(photos, masks):
        cv2.imwrite(
            str(tmp_path / "photos" / path.name),
            cv2.resize(cv2.imread(str(path)), (200, 150), interpolation=cv2.INTER_AREA),
        )
        hand[path.stem] = (
            cv2.resize(cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE), (200, 150), interpolation=cv2.INTER_AREA) > 127
        )
    result = calibrate_photos(tmp_path / "photos", tmp_path / "scene", masks="auto")
    assert len(result.sfm.registered) >= 0.8 * len(photos)  # 20 of 25 here (all 49 at 400x300: bench_masks)
    scores = [iou(v.mask, hand[Path(v.name).stem]) for v in result.scene.views]
    assert np.mean(scores) >= 0.95 and min(scores) >= 0.85, np.round(scores, 3)
    assert (tmp_path / "scene" / CONTACT_SHEET).is_file()
    assert set(read_confidence(tmp_path / "scene")) == {Path(n).stem for n in result.sfm.registered}


def test_grabcut_learns_its_first_colour_models_from_the_sure_pixels(monkeypatch):
    """A cream object with a table-brown lower part in a wide probable-object halo of table, its
    top without points probable background (DTU 69's halo and DTU 65's skull top in one view): the
    sure pixels' colour models keep the object and drop the halo; OpenCV's own start, learning
    from the probable labels too, does not."""
    rng = np.random.default_rng(0)
    H, W = 96, 128
    yy, xx = np.mgrid[:H, :W]
    obj = (xx - 64) ** 2 / 40**2 + (yy - 52) ** 2 / 34**2 < 1
    image = np.empty((H, W, 3))
    image[:] = (150, 100, 60)
    image[obj] = (200, 190, 170)
    image[obj & (yy > 60)] = (140, 95, 55)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    labels = np.full((H, W), cv2.GC_BGD, np.uint8)
    labels[cv2.dilate(obj.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0] = cv2.GC_PR_FGD
    labels[obj & (rng.random((H, W)) < 0.05) & (yy > 30)] = cv2.GC_FGD
    labels[obj & (yy < 30)] = cv2.GC_PR_BGD
    cv2.setRNGSeed(0)
    assert iou(automask._grabcut(image, labels), obj) > 0.98
    monkeypatch.setattr(automask, "MIN_SURE_PIXELS", labels.size)  # forces OpenCV's own start
    cv2.setRNGSeed(0)
    assert iou(automask._grabcut(image, labels), obj) < 0.9


def test_a_plinth_top_is_not_the_table():
    """A sphere on a plinth whose flat textured top is the largest plane in view, on a white table
    (no texture, no points), 12 views at 128x96: the plinth goes on under the top (0.4 % of the
    points, its sides), so the top is no support; it reaches past the points' outline in half the
    views (the sides have few points): ambiguous, the plinth stays object with a lower confidence.
    Taken for the table (before), the plinth was cut away: IoU 0.52-0.90, confidence 0.87-0.99."""
    surfaces, cameras = plinth_scene(), tabletop_cameras(12)
    views = [render(surfaces, c) for c in cameras]
    points = surface_points(surfaces, cameras)
    scene = Scene([View(c, v["rgb"]) for c, v in zip(cameras, views)], from_cameras(cameras))
    result = mask_scene(scene, points, np.full(len(points), 3))
    scores = [iou(m, v["mask"]) for m, v in zip(result.auto.masks, views)]
    assert np.mean(scores) >= 0.97 and min(scores) >= 0.95, np.round(scores, 3)
    assert result.auto.plane is None and result.auto.ambiguous and result.used
