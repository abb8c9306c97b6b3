"""scene.json as a typed record: what a run was fitted on, read back with one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DvrError
from ..files import read_json, write_json
from ..scene.camera import Camera
from ..scene.formats.dvr import parse_camera
from ..scene.types import Normalization, Scene


def holdout_split(n_views: int, every: int) -> tuple[list[int], list[int]]:
    """(train, held-out) view indices: with every = K > 0 view i is held out when i % K == K // 2."""
    held = [i for i in range(n_views) if every > 0 and i % every == every // 2]
    return [i for i in range(n_views) if i not in held], held


@dataclass
class SceneRecord:
    """The scene of a run.

    Attributes:
        normalization: world <-> unit frame the field was fitted in.
        cameras: every view's camera in world units, in scene order.
        images, masks: absolute paths per view (None where unknown / absent; a mask the scene
            did not use, as in a fit without masks, is absent).
        train, holdout: view indices fitted / held out.
        inputs: the ``load_scene`` arguments that reload the scene (None when not recorded).
        source: where the scene came from (for messages).
    """

    normalization: Normalization
    cameras: list[Camera]
    images: list[Path | None]
    masks: list[Path | None]
    train: list[int]
    holdout: list[int]
    inputs: dict | None = None
    source: str | None = None

    @classmethod
    def from_scene(cls, scene: Scene, train: list[int], holdout: list[int]) -> "SceneRecord":
        def absolute(path):
            return Path(path).resolve() if path else None

        return cls(
            scene.normalization,
            [v.camera for v in scene.views],
            [absolute(v.image_path) for v in scene.views],
            [absolute(v.mask_path) if v.mask is not None else None for v in scene.views],
            list(train),
            list(holdout),
            scene.meta.get("load_args"),
            str(Path(scene.source).resolve()) if scene.source else None,
        )

    def to_json(self) -> dict:
        return {
            "normalization": self.normalization.to_json(),
            "inputs": self.inputs,
            "source": self.source,
            "cameras": [
                c.to_json(str(i) if i else None, str(m) if m else None)
                for c, i, m in zip(self.cameras, self.images, self.masks)
            ],
            "train": self.train,
            "holdout": self.holdout,
        }

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> "SceneRecord":
        """Read scene.json; DvrError naming the file and the problem for anything malformed."""
        path = Path(path)
        data = read_json(path)
        try:
            normalization = Normalization.from_json(data["normalization"])
        except (KeyError, TypeError, ValueError):
            raise DvrError("'normalization' needs 'center' (3 numbers) and 'scale'", path) from None
        entries = data.get("cameras")
        if not isinstance(entries, list) or not entries:
            raise DvrError("'cameras' must be a non-empty list", path)
        parsed = [parse_camera(entry, i, path) for i, entry in enumerate(entries)]
        n = len(parsed)
        split = {}
        for key in ("train", "holdout"):
            value = data.get(key, list(range(n)) if key == "train" else [])
            if not isinstance(value, list) or not all(isinstance(i, int) and 0 <= i < n for i in value):
                raise DvrError(f"'{key}' must be a list of view indices below {n}", path)
            split[key] = value
        inputs = data.get("inputs")
        if inputs is not None and not isinstance(inputs, dict):
            raise DvrError("'inputs' must be an object (the scene's load arguments)", path)
        return cls(
            normalization,
            [c for c, _, _ in parsed],
            [Path(e["image"]) if e.get("image") and Path(e["image"]).is_absolute() else None for e in entries],
            [m for _, _, m in parsed],
            split["train"],
            split["holdout"],
            inputs,
            data.get("source"),
        )
