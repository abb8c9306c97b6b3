"""Automatic masks on real captures: DTU scans 24, 65, 69, 106 calibrated from the photos alone.

For each scan found in ../shared/data: the photos at 400x300 (scan 65 is shrunk 4x from
1600x1200 by pixel area, which keeps OpenCV's pixel-centre rule u' = (u + 0.5) / 4 - 0.5) go
through ``calibrate_photos(..., masks="auto")`` exactly as ``dvr calibrate photos/ --masks auto``;
each written mask is compared with the capture's hand-made mask of the same photo (DTU masks are
matched to photos by order). Prints a table (registered photos, mean / min IoU, photos under
0.85, mask time) and writes JSON; the contact sheets stay in each scene folder (OUT/<scan>/masks.png).

    .venv/bin/python benchmarks/bench_masks.py                       # all four scans
    .venv/bin/python benchmarks/bench_masks.py --scans 24 --out benchmarks/out/masks

With ``--given-cameras`` each scan keeps its own cameras (cameras_sphere.npz) and goes through
``calibrate_posed`` as ``dvr calibrate SCAN --cameras cameras_sphere.npz --masks auto --max-size 400``
(sparse points triangulated with the cameras held fixed). ``--wall N`` measures instead the
synthetic object hung on a textured wall (tests/helpers/wall_scene.py), N photos at ``--size``,
with the cameras given: mean / min IoU, and whether every mask under IoU 0.8 is flagged
(confidence under the contact sheet's threshold).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from common import machine, machine_title, write_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_DATA = ROOT.parent / "shared" / "data"
#: scan -> (folder in shared/data, shrink factor to 400x300)
SCANS = {
    "24": ("dtu_scan24_400", 1),
    "65": ("dtu_scan65", 4),
    "69": ("dtu_scan69_400", 1),
    "106": ("dtu_scan106_400", 1),
}
LOW_IOU = 0.85


def photos_at_400(folder: Path, shrink: int, work: Path) -> tuple[Path, list[np.ndarray]]:
    """The scan's photos as a folder at 400x300 (copied, or shrunk into ``work``) and its hand
    masks in photo order, (H, W) bool."""
    photos = sorted((folder / "image").glob("*.png"))
    hand = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((folder / "mask").glob("*.png"))]
    if len(hand) != len(photos):
        raise SystemExit(f"{folder}: {len(photos)} photos but {len(hand)} masks")
    if shrink == 1:
        return folder / "image", [m > 127 for m in hand]
    out = work / "photos"
    out.mkdir(parents=True, exist_ok=True)
    for path in photos:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        small = cv2.resize(image, (image.shape[1] // shrink, image.shape[0] // shrink), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / path.name), small)
    return out, [
        cv2.resize(m, (m.shape[1] // shrink, m.shape[0] // shrink), interpolation=cv2.INTER_AREA) > 127 for m in hand
    ]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def bench_scan(scan: str, out: Path) -> dict:
    from dvr_cli.calib.automask import read_confidence
    from dvr_cli.calib.pipeline import calibrate_photos

    folder, shrink = SCANS[scan]
    photos, hand = photos_at_400(SHARED_DATA / folder, shrink, out / f"work{scan}")
    names = [p.name for p in sorted(photos.glob("*.png"))]
    start = time.process_time()
    result = calibrate_photos(photos, out / f"scan{scan}", masks="auto")
    cpu = time.process_time() - start
    distorted = any(c.dist is not None for c in result.sfm.cameras)
    scores = {}
    for view in result.scene.views:  # the masks as written (undistorted when the lens has distortion)
        scores[view.name] = iou(view.mask, hand[names.index(Path(view.name).name)])
    values = np.array(list(scores.values()))
    confidence = read_confidence(out / f"scan{scan}")
    return {
        "scan": scan,
        "photos": len(names),
        "registered": len(result.sfm.registered),
        "mean_iou": float(values.mean()),
        "min_iou": float(values.min()),
        "worst": min(scores, key=scores.get),
        "below_085": int((values < LOW_IOU).sum()),
        "mask_seconds": result.timings["masks"],
        "calibrate_seconds": result.timings["total"],
        "calibrate_cpu_seconds": cpu,
        "distortion_estimated": distorted,
        "confidence_iou_correlation": float(np.corrcoef([confidence[Path(n).stem] for n in scores], values)[0, 1]),
        "iou": scores,
    }


def bench_given(scan: str, out: Path) -> dict:
    """One DTU scan with its own cameras: photos shrunk to 400x300 by the loader (--max-size 400)."""
    from dvr_cli.calib.pipeline import calibrate_posed

    folder, shrink = SCANS[scan]
    hand = [
        m > 127
        for m in (
            cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((SHARED_DATA / folder / "mask").glob("*.png"))
        )
    ]
    hand = [
        cv2.resize(m.astype(np.float32), (m.shape[1] // shrink, m.shape[0] // shrink), interpolation=cv2.INTER_AREA)
        >= 0.5
        for m in hand
    ]
    start = time.perf_counter()
    result = calibrate_posed(
        SHARED_DATA / folder, SHARED_DATA / folder / "cameras_sphere.npz", out / f"given{scan}", max_size=400
    )
    seconds = time.perf_counter() - start
    values = np.array([iou(m, h) for m, h in zip(result.auto.masks, hand)])
    return {
        "scan": scan,
        "photos": len(hand),
        "mean_iou": float(values.mean()),
        "min_iou": float(values.min()),
        "below_085": int((values < LOW_IOU).sum()),
        "seconds": seconds,
        "used": result.used,
        "distrusted": result.distrusted,
        "iou": values.round(4).tolist(),
        "confidence": result.auto.confidence.round(4).tolist(),
    }


def bench_wall(n: int, size: tuple[int, int], out: Path, photos_only: bool = False) -> dict:
    """The synthetic hung object: photos + cams.json written, then calibrate_posed as the CLI runs it
    (with ``photos_only``: calibrate_photos, the cameras estimated)."""
    import json

    sys.path[:0] = [str(ROOT / "examples"), str(ROOT / "tests" / "helpers")]
    from dvr_cli.calib.contact import LOW_CONFIDENCE
    from dvr_cli.calib.pipeline import calibrate_photos, calibrate_posed
    from wall_scene import wall_capture

    capture = wall_capture(n, size)
    photos = out / "wall" / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for camera, image in zip(capture["cameras"], capture["images"]):
        cv2.imwrite(str(photos / camera.name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cams = out / "wall" / "cams.json"
    cams.write_text(
        json.dumps({"convention": "opencv", "cameras": [c.to_json(str(photos / c.name)) for c in capture["cameras"]]})
    )
    start = time.perf_counter()
    if photos_only:  # the cameras estimated by SfM: the masks of the registered photos
        result = calibrate_photos(photos, out / "wall" / "scene", masks="auto").masks
    else:
        result = calibrate_posed(photos, cams, out / "wall" / "scene")
    seconds = time.perf_counter() - start
    truth = {c.name: t for c, t in zip(capture["cameras"], capture["truth"])}
    values = np.array([iou(m, truth[v.name]) for m, v in zip(result.auto.masks, result.scene.views)])
    unflagged = [k for k, v in enumerate(values) if v < 0.8 and result.auto.confidence[k] >= LOW_CONFIDENCE]
    return {
        "scan": f"wall{n}" + ("-photos" if photos_only else ""),
        "photos": n,
        "registered": len(values),
        "size": list(size),
        "mean_iou": float(values.mean()),
        "min_iou": float(values.min()),
        "below_085": int((values < LOW_IOU).sum()),
        "under_08_unflagged": len(unflagged),
        "seconds": seconds,
        "used": result.used,
        "iou": values.round(4).tolist(),
        "confidence": result.auto.confidence.round(4).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", nargs="+", default=list(SCANS), choices=list(SCANS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "masks")
    parser.add_argument("--given-cameras", action="store_true", help="keep each scan's cameras (calibrate_posed)")
    parser.add_argument("--wall", type=int, default=0, help="measure the synthetic hung object with N photos instead")
    parser.add_argument("--size", type=int, nargs=2, default=(320, 240), help="--wall photo size W H")
    parser.add_argument("--photos-only", action="store_true", help="--wall: estimate the cameras (SfM) instead")
    args = parser.parse_args()
    if args.wall or args.given_cameras:
        rows = (
            [bench_wall(args.wall, tuple(args.size), args.out, args.photos_only)]
            if args.wall
            else [bench_given(scan, args.out) for scan in args.scans if (SHARED_DATA / SCANS[scan][0]).is_dir()]
        )
        for r in rows:
            print(
                f"{r['scan']:>7}: IoU mean {r['mean_iou']:.3f} min {r['min_iou']:.3f}, under 0.85: "
                f"{r['below_085']}, masks used: {r['used']}, {r['seconds']:.1f} s"
                + (f", IoU < 0.8 not flagged: {r['under_08_unflagged']}" if "under_08_unflagged" in r else "")
            )
        name = f"bench_masks_{rows[0]['scan'] if args.wall else 'given'}.json"
        write_json(args.out / name, {"machine": machine(), "runs": rows})
        print(f"wrote {args.out / name}")
        return
    rows = []
    for scan in args.scans:
        if not (SHARED_DATA / SCANS[scan][0]).is_dir():
            print(f"scan {scan}: {SHARED_DATA / SCANS[scan][0]} absent, skipped")
            continue
        rows.append(bench_scan(scan, args.out))
        r = rows[-1]
        print(
            f"scan {scan}: {r['registered']}/{r['photos']} registered, IoU mean {r['mean_iou']:.3f} "
            f"min {r['min_iou']:.3f}, masks {r['mask_seconds']:.1f} s",
            flush=True,
        )
    info = machine()
    print(f"\n{machine_title(info)}")
    print(f"{'scan':>5} {'registered':>10} {'mean IoU':>9} {'min IoU':>8} {'< 0.85':>7} {'masks s':>8} {'calib s':>8}")
    for r in rows:
        print(
            f"{r['scan']:>5} {r['registered']:>4}/{r['photos']:<5} {r['mean_iou']:>9.3f} {r['min_iou']:>8.3f} "
            f"{r['below_085']:>7} {r['mask_seconds']:>8.1f} {r['calibrate_seconds']:>8.1f}"
        )
    write_json(args.out / "bench_masks.json", {"machine": info, "scans": rows})
    print(f"wrote {args.out / 'bench_masks.json'}")


if __name__ == "__main__":
    main()
