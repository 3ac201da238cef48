"""One step of the infinite zoom: the previous frame scaled, rotated and panned.

Google's 2015 notebook makes its zoom this way: each frame is the previous
dreamed frame, zoomed in a little about its centre, dreamed again, so the
network keeps inventing what it sees in its own patterns.
"""

from __future__ import annotations

import numpy as np

from dreamer.video.settings import ZoomMotion


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
