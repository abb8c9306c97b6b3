"""A live 3D web viewer (viser) over dvr's scene and run objects: `dvr view`, `dvr fit --viewer`.

    cameras.py  dvr Camera <-> the viewer's camera pose (unit frame)
    live.py     live renders of each client's viewpoint with the DVR renderer, within a time share
    app.py      the server: what is drawn (Content), the Viewer, the fit's step hook (FitWatch)
"""

from .app import LIVE_MODES, Content, FitWatch, Viewer, field_surface, run_content, scene_content, watch_fit
from .cameras import Pose, camera_of, pose_of
from .live import LiveRender, RenderSettings

__all__ = ["LIVE_MODES", "Content", "FitWatch", "LiveRender", "Pose", "RenderSettings", "Viewer", "camera_of",
           "field_surface", "pose_of", "run_content", "scene_content", "watch_fit"]
