"""One step of the infinite zoom: the previous frame scaled, rotated and panned.

Google's 2015 notebook makes its zoom this way: each frame is the previous
dreamed frame, zoomed in a little about its centre, dreamed again, so the
network keeps inventing what it sees in its own patterns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from dreamer.config import Setting
from dreamer.errors import DreamerError


def _setting(default, **meta):
    return field(default=default, metadata={"setting": Setting(**meta)})


@dataclass(frozen=True)
class ZoomMotion:
    """How each frame moves from the previous one; each field's help is its ``Setting``.

    ``pan`` is the pixels per frame (x, y) that the view moves; the picture
    moves the other way.
    """

    zoom: float = _setting(
        1.05, help="Scale factor per frame (1.05: 5% closer each frame).", flags=("--zoom",), kind=float,
        minimum=0.5, maximum=2.0, error="zoom must be a number between 0.5 and 2")
    spin: float = _setting(
        0.0, help="Rotation per frame in degrees, counter-clockwise.", flags=("--spin",), kind=float,
        minimum=-45.0, maximum=45.0, error="spin must be between -45 and 45 degrees per frame")
    pan: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        for item in fields(self):
            setting = item.metadata.get("setting")
            if setting is not None and not setting.allows(getattr(self, item.name)):
                raise DreamerError(setting.error)
        if not all(math.isfinite(p) and abs(p) <= 256 for p in self.pan):
            raise DreamerError("pan must be between -256 and 256 pixels per frame")


def motion_matrix(width: int, height: int, motion: ZoomMotion) -> np.ndarray:
    """The 2x3 affine matrix (source -> destination pixels) of one step about the image centre."""
    import cv2

    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, motion.spin, motion.zoom)
    matrix[0, 2] -= motion.pan[0]
    matrix[1, 2] -= motion.pan[1]
    return matrix


def zoom_step(image: np.ndarray, motion: ZoomMotion) -> np.ndarray:
    """``image`` (float32 HxWx3 in [0, 1]) moved by one step; what comes in at the edges is reflected."""
    import cv2

    height, width = image.shape[:2]
    moved = cv2.warpAffine(image, motion_matrix(width, height, motion), (width, height),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(moved, 0.0, 1.0).astype(np.float32, copy=False)


def grey_noise(width: int, height: int, seed: int) -> np.ndarray:
    """A start image for a zoom without input: mid grey with a little seeded noise, float32 HxWx3."""
    rng = np.random.default_rng(seed)
    return (0.5 + 0.08 * rng.standard_normal((height, width, 3))).clip(0, 1).astype(np.float32)
