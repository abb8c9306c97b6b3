"""A live 3D web viewer (viser) over dvr's scene and run objects: `dvr view`, `dvr fit --viewer`.

content.py  what is shown (Content) from a Scene or a Run, and the panels' image helpers
cameras.py  dvr Camera <-> the viewer's camera pose (unit frame)
live.py     live renders of each client's viewpoint with the DVR renderer, within a time share
app.py      the server: draws a Content, serves live renders (Viewer)
watch.py    the fit's loop hook (FitWatch): surface, loss curve, held-out score, pause, save
chart.py    the line chart of the panels; ports.py: can the server listen there
"""

from .app import LIVE_MODES, Viewer
from .cameras import Pose, camera_of, pose_of
from .content import Content, field_surface, run_content, scene_content
from .live import LiveRender, RenderSettings
from .watch import FitWatch, watch_fit

__all__ = [
    "LIVE_MODES",
    "Content",
    "FitWatch",
    "LiveRender",
    "Pose",
    "RenderSettings",
    "Viewer",
    "camera_of",
    "field_surface",
    "pose_of",
    "run_content",
    "scene_content",
    "watch_fit",
]
