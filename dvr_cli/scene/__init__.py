"""Scenes: cameras (one OpenCV convention), camera-file readers, photos + masks, normalisation."""

from .camera import Camera, look_at
from .formats import detect_format
from .load import load_cameras, load_scene
from .types import Normalization, Scene, View
from .write import write_scene

__all__ = [
    "Camera",
    "Normalization",
    "Scene",
    "View",
    "detect_format",
    "load_cameras",
    "load_scene",
    "look_at",
    "write_scene",
]
