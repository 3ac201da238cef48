"""Keeping the input's colours: a dream on the luminance alone.

``luminance_only(gradient)`` wraps the engine's gradient function so that
every step changes the three channels of a pixel by the same amount: the
gradient with respect to that common change is the sum of the channel
gradients. Adding the same value to R, G and B moves the luminance and
leaves the colour differences (R-G, B-G, and so the hue) as they were, so
the patterns grow in brightness only and a grayscale photo stays gray (as
style-transfer tools' "preserve colours" does). Clipping at black and white
is the one place the channels can part.

``is_grayscale(rgb)`` says whether an image's three channels are equal,
which makes ``keep_colors`` the default for it.
"""

from __future__ import annotations

import numpy as np


def is_grayscale(rgb: np.ndarray, tolerance: float = 1.0 / 512) -> bool:
    """Whether the HxWx3 image's channels are equal everywhere (within half a level of 8 bits)."""
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max(initial=0.0) <= tolerance
                and np.abs(rgb[..., 1] - rgb[..., 2]).max(initial=0.0) <= tolerance)


def common_change(grad: np.ndarray) -> np.ndarray:
    """The gradient for a change shared by the three channels, repeated into each channel."""
    shared = grad.sum(axis=-1, keepdims=True, dtype=np.float32)
    return np.repeat(shared, grad.shape[-1], axis=-1)


class LuminanceGradient:
    """A gradient function (``g(image, weight)``, ``g.tiled(image, tile, rng)``) whose every
    gradient is ``common_change`` of the wrapped one's; other attributes are the wrapped one's."""

    def __init__(self, gradient):
        self._gradient = gradient

    def __call__(self, image: np.ndarray, weight: float = 1.0) -> tuple[float, np.ndarray]:
        loss, grad = self._gradient(image, weight)
        return loss, common_change(grad)

    def tiled(self, image: np.ndarray, tile, rng) -> tuple[float, np.ndarray]:
        loss, grad = self._gradient.tiled(image, tile, rng)
        return loss, common_change(grad)

    def __getattr__(self, name: str):
        return getattr(self._gradient, name)


def luminance_only(gradient) -> LuminanceGradient:
    """``gradient`` restricted to changes of brightness (see the module docstring)."""
    return LuminanceGradient(gradient)
