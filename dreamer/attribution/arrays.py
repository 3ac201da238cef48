"""Array helpers the methods share: baselines, blur, map resizing and normalising (numpy only)."""

from __future__ import annotations

import numpy as np


def blurred(image: np.ndarray, sigma_fraction: float = 0.04) -> np.ndarray:
    """``image`` (H x W x 3) under a Gaussian blur of ``sigma_fraction`` of its short side."""
    from scipy.ndimage import gaussian_filter

    sigma = max(1.0, sigma_fraction * min(image.shape[:2]))
    return gaussian_filter(image, sigma=(sigma, sigma, 0), mode="reflect").astype(np.float32)


def baseline_image(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Integrated Gradients' start: ``black`` (zeros), ``blurred`` (``blurred``) or ``noise`` (uniform)."""
    if kind == "black":
        return np.zeros_like(image, np.float32)
    if kind == "blurred":
        return blurred(image)
    return rng.random(image.shape, dtype=np.float32)


def upsampled(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 2-D map resized to ``shape`` (H, W), negatives clipped to 0."""
    from dreamer.images import resize

    heat = np.asarray(heat, np.float32)
    if heat.shape == tuple(shape):
        return heat
    return np.maximum(resize(heat[..., None], tuple(shape), clip=False)[..., 0], 0.0)


def normalised(heat: np.ndarray) -> np.ndarray:
    """A non-negative map scaled so its largest value is 1 (all zeros stays zeros)."""
    heat = np.maximum(np.nan_to_num(np.asarray(heat, np.float32)), 0.0)
    top = float(heat.max()) if heat.size else 0.0
    return heat / top if top > 0 else heat


def in_batches(count: int, size: int):
    """(start, stop) pairs covering ``range(count)`` in steps of ``size``."""
    return [(start, min(count, start + size)) for start in range(0, count, size)]
