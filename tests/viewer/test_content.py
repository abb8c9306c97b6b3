"""What the viewer shows of a run: a run fitted without masks, not exported, is shown cut to its
object once it holds its region."""

from __future__ import annotations

from dvr_cli.mesh.separate import object_region
from dvr_cli.viewer.content import run_surface
from tabletop_field import tabletop_run
from tabletop_scene import tabletop_cameras


def test_a_run_without_masks_is_shown_cut_to_its_object(tmp_path):
    run = tabletop_run(tmp_path, tabletop_cameras(8, (64, 48), azimuth=70.0))
    whole = run_surface(run)
    assert object_region(run) is not None
    cut = run_surface(run)
    assert whole.vertices[:, 2].min() < -0.52 and cut.vertices[:, 2].min() > -0.5  # unit frame: table top z = -0.5
    assert 0 < len(cut.faces) < 0.5 * len(whole.faces)
