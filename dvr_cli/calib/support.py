"""Is a plane the object's support, or a flat face of the object?

A table, a floor or a wall reaches past the object: in most photos some of it lies outside the
object's outline (the convex hull of the object's points), and nothing of the object lies
beyond it. The flat top
of a plinth the object stands on (or of the blocks tools lie on) ends at its own edges, inside
the object's outline with the plinth counted in: taken for the table, it cut the plinth out of
every mask (a scan of tools on two concrete blocks on a white table: mean mask IoU 0.559
against 0.970 before).

Per view the test needs only pixels: where the plane's evidence lies (its sparse points, or the
pixels that agree with the neighbouring views through it) and where the object's points project.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..scene.camera import Camera

#: A view sees the plane reach past the object when REACH_SHARE of its plane pixels, and at least
#: REACH_AREA of the image's pixels, lie outside the convex hull of the object's pixels grown by
#: REACH_MARGIN (share of the image's shorter side). A view with fewer than REACH_MIN object
#: pixels, or whose grown hull covers UNDECIDED_COVER of its frame, cannot tell and does not vote.
REACH_SHARE, REACH_AREA, REACH_MIN, REACH_MARGIN, UNDECIDED_COVER = 0.1, 0.01, 3, 0.05, 0.9
#: A plane is the support when it reaches past the object in SUPPORT_VIEWS of the views that can
#: tell; from DOUBT_VIEWS up to that the choice is ambiguous: the plane is kept as object and the
#: masks' confidence is multiplied by AMBIGUOUS_TRUST.
SUPPORT_VIEWS, DOUBT_VIEWS, AMBIGUOUS_TRUST = 0.5, 0.25, 0.9
#: Nothing of the object lies beyond a plane when at most BEYOND_SHARE of its points lie more
#: than BEYOND_DEPTH (object radius 1) past it. The tables of DTU 24, 65, 69, 106 (photos only):
#: 0.06, 0, 0, 0 % (0.06, 0.18, 0.05, 0.63 % at 0.1: scan 106); the synthetic plinth's top, its
#: sides seen at a glancing angle: 0.4 %.
BEYOND_DEPTH, BEYOND_SHARE = 0.2, 0.002


def reaches_past(plane_px: np.ndarray, object_px: np.ndarray, width: int, height: int) -> bool | None:
    """Whether the plane's pixels ``plane_px`` (M, 2) (column, row) reach past the object's
    silhouette: the convex hull of its pixels ``object_px`` (K, 2), grown by REACH_MARGIN; None
    when the view cannot tell (fewer than REACH_MIN object pixels, or the grown hull covers
    UNDECIDED_COVER of the frame)."""
    if len(object_px) < REACH_MIN:
        return None
    hull = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(object_px).astype(np.int32)), 1)
    r = max(1, round(REACH_MARGIN * min(width, height)))
    hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    if hull.mean() >= UNDECIDED_COVER:
        return None
    ij = np.clip(np.round(plane_px).astype(int), 0, [width - 1, height - 1])
    outside = np.count_nonzero(hull[ij[:, 1], ij[:, 0]] == 0)
    return bool(outside >= max(REACH_AREA * width * height, REACH_SHARE * len(plane_px)))


def reach_share(votes: list[bool | None]) -> float | None:
    """Share of the views that can tell (not None) in which the plane reaches past the object; None when none can."""
    told = [v for v in votes if v is not None]
    return float(np.mean(told)) if told else None


def points_reach(plane_points: np.ndarray, object_points: np.ndarray, cameras: list[Camera]) -> float | None:
    """:func:`reach_share` over ``cameras`` of a plane's points (M, 3) against the object's (K, 3)."""

    def seen(camera: Camera, X: np.ndarray) -> np.ndarray:
        uv, depth = camera.project_depth(X)
        return uv[(depth > 0) & camera.in_image(uv)]

    return reach_share(
        [reaches_past(seen(c, plane_points), seen(c, object_points), c.width, c.height) for c in cameras]
    )


def verdict(share: float | None, beyond: float | None = None) -> str:
    """'support', 'ambiguous' or 'object' for a plane reaching past the object in ``share`` of the
    views (None: no view can tell). With ``beyond``, the share of the object's points more than
    BEYOND_DEPTH past the plane: a plane with at most BEYOND_SHARE beyond it is the support
    whatever its reach (a white table shows no texture past the object's outline, but nothing
    stands under it); one with more is never the support (the object goes on past it: a plinth
    under its top), only ambiguous where it reaches past the object's points (a plinth's sides
    without points lie outside their outline)."""
    by_reach = (
        "ambiguous"
        if share is None
        else ("support" if share >= SUPPORT_VIEWS else "ambiguous" if share >= DOUBT_VIEWS else "object")
    )
    if beyond is None:
        return by_reach
    if beyond <= BEYOND_SHARE:
        return "support"
    return "object" if by_reach == "object" else "ambiguous"
