"""Gradient filters: a Laplacian pyramid normalisation and a total-variation penalty.

Both work on HxWxC float32 numpy arrays and return arrays of the same shape.
"""

from __future__ import annotations

import numpy as np

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0


def _blur5(array: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """The separable 5x5 binomial filter over the first two axes (edges mirrored, so a constant stays constant)."""
    from scipy.ndimage import convolve1d

    kernel = _BINOMIAL * gain
    return convolve1d(convolve1d(array, kernel, axis=0, mode="mirror"), kernel, axis=1, mode="mirror")


def _upsample(low: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero-insert ``low`` to ``shape`` and interpolate (the pyramid's expand step)."""
    up = np.zeros(tuple(shape) + low.shape[2:], np.float32)
    up[::2, ::2] = low
    return _blur5(up, gain=2.0)


def laplacian_split(array: np.ndarray, levels: int) -> list[np.ndarray]:
    """A Laplacian pyramid of an HxWxC array: ``levels`` arrays, coarsest first.

    The first is the low-pass residual; each next one the detail lost by
    halving. ``laplacian_merge`` of the result gives ``array`` back.
    """
    details = []
    current = array.astype(np.float32, copy=False)
    for _ in range(levels - 1):
        if min(current.shape[:2]) < 2:
            break
        low = _blur5(current)[::2, ::2]
        details.append(current - _upsample(low, current.shape[:2]))
        current = low
    return [current] + details[::-1]


def laplacian_merge(pyramid: list[np.ndarray]) -> np.ndarray:
    """The inverse of ``laplacian_split``."""
    image = pyramid[0]
    for detail in pyramid[1:]:
        image = _upsample(image, detail.shape[:2]) + detail
    return image


def laplacian_normalize(grad: np.ndarray, levels: int) -> np.ndarray:
    """Give every level of ``grad``'s Laplacian pyramid unit RMS, then merge.

    This evens out the gradient's scales: without it the finest level (pixel
    noise) dominates; with it coarse structure gets its share.
    """
    pyramid = laplacian_split(grad, levels)
    return laplacian_merge([level / max(float(np.sqrt(np.mean(level**2))), 1e-10) for level in pyramid])


def tv_gradient(detail: np.ndarray, eps: float = 1.0 / 255.0) -> np.ndarray:
    """The gradient of the isotropic total variation of an HxWxC array.

    Each pixel gets a value in about [-4, 4], whatever the detail's
    amplitude, so it can be weighed directly against a normalised gradient.
    """
    dy = np.zeros_like(detail)
    dx = np.zeros_like(detail)
    dy[:-1] = detail[1:] - detail[:-1]
    dx[:, :-1] = detail[:, 1:] - detail[:, :-1]
    magnitude = np.sqrt(dx**2 + dy**2 + eps**2)
    py, px = dy / magnitude, dx / magnitude
    grad = -(py + px)
    grad[1:] += py[:-1]
    grad[:, 1:] += px[:, :-1]
    return grad
