"""Random transforms of the image before a step's gradient, and their inverses.

A gradient taken at a randomly rotated and scaled copy of the image, mapped
back, makes the dream robust to small changes of view (as feature
visualisation does). The random shift (jitter) is in ``dreamer.engine.ascent``.
"""

from __future__ import annotations

import math

import numpy as np

from dreamer.config import DreamConfig
from dreamer.engine.tiles import tiled_gradient


def affine(array: np.ndarray, angle: float, scale: float) -> np.ndarray:
    """``array`` rotated by ``angle`` degrees and scaled by ``scale`` about its centre (edges reflected)."""
    from scipy.ndimage import affine_transform

    theta = math.radians(angle)
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]) / scale
    matrix = np.eye(3)
    matrix[:2, :2] = rotation
    centre = np.array([(array.shape[0] - 1) / 2, (array.shape[1] - 1) / 2, 0.0])
    offset = centre - matrix @ centre
    return affine_transform(array, matrix, offset=offset, order=1, mode="reflect").astype(np.float32)


def transformed_gradient(image: np.ndarray, gradient, config: DreamConfig, rng: np.random.Generator,
                         tile: int | None) -> tuple[np.ndarray, float]:
    """The gradient (and objective) at a randomly rotated and scaled copy of ``image``, mapped back."""
    angle = float(rng.uniform(-config.rotate, config.rotate)) if config.rotate else 0.0
    scale = float(np.exp(rng.uniform(-1, 1) * math.log1p(config.scale_jitter))) if config.scale_jitter else 1.0
    if angle == 0.0 and scale == 1.0:
        return tiled_gradient(gradient, image, tile, rng)
    grad, value = tiled_gradient(gradient, affine(image, angle, scale), tile, rng)
    return affine(grad, -angle, 1.0 / scale), value
