"""Keeping the input's colours: a dream on the brightness alone (``DreamConfig.keep_colors``).

With ``keep_colors`` every step changes a pixel's three channels by the same
amount: the gradient with respect to that common change is the sum of the
channel gradients (``common_change``). Adding the same value to R, G and B
moves the brightness and leaves the colour differences (R-G, B-G, and so the
hue) as they were, so the patterns grow in brightness only and a grayscale
photo stays gray, as style-transfer tools' "preserve colours" does. Clipping
at black and white is the one place where the channels can part.

``is_grayscale(rgb)`` says whether an image's three channels are equal; the
API turns ``keep_colors`` on for such an input unless told otherwise.
"""

from __future__ import annotations

import numpy as np


def is_grayscale(rgb: np.ndarray, tolerance: float = 1.0 / 512) -> bool:
    """Whether the HxWx3 image's channels are equal everywhere (within half a level of 8 bits)."""
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max(initial=0.0) <= tolerance
                and np.abs(rgb[..., 1] - rgb[..., 2]).max(initial=0.0) <= tolerance)


def common_change(grad: np.ndarray) -> np.ndarray:
    """In place: each pixel's gradient becomes the sum over its channels, in every channel; returns ``grad``."""
    grad[...] = grad.sum(axis=-1, keepdims=True, dtype=np.float32)
    return grad
