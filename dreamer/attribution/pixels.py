"""Pixel-level attribution from gradients: vanilla gradients, SmoothGrad, Integrated Gradients.

Each function takes the ``Network``, the H x W x 3 image in [0, 1] and the
settings, and returns an H x W map (non-negative, largest value 1). The
noisy copies and the path steps are sent through the network in batches of
``settings.batch``.
"""

from __future__ import annotations

import numpy as np

from dreamer.attribution.arrays import baseline_image, in_batches, normalised
from dreamer.attribution.gradient import gradients


def vanilla_gradients(network, image: np.ndarray, settings) -> np.ndarray:
    """|d score / d pixel|, the largest over the colour channels (Simonyan et al. 2014)."""
    _, _, grad = gradients(network, image[None])
    return normalised(np.abs(grad[0]).max(axis=-1))


def smoothgrad(network, image: np.ndarray, settings) -> np.ndarray:
    """The gradient averaged over ``samples`` noisy copies, then as vanilla gradients (Smilkov et al. 2017)."""
    rng = np.random.default_rng(settings.seed)
    sigma = settings.noise * float(image.max() - image.min() or 1.0)
    total = np.zeros(image.shape, np.float32)
    for start, stop in in_batches(settings.samples, settings.batch):
        noisy = image[None] + rng.normal(0.0, sigma, (stop - start, *image.shape)).astype(np.float32)
        total += gradients(network, noisy)[2].sum(axis=0)
    return normalised(np.abs(total / settings.samples).max(axis=-1))


def integrated_gradients(network, image: np.ndarray, settings) -> np.ndarray:
    """(image - baseline) times the mean gradient along the straight path from the baseline
    (Sundararajan et al. 2017, midpoint rule with ``samples`` steps), summed over colours, absolute."""
    rng = np.random.default_rng(settings.seed)
    start_image = baseline_image(image, settings.baseline, rng)
    alphas = (np.arange(settings.samples, dtype=np.float32) + 0.5) / settings.samples
    total = np.zeros(image.shape, np.float32)
    for start, stop in in_batches(len(alphas), settings.batch):
        steps = alphas[start:stop, None, None, None]
        total += gradients(network, start_image[None] + steps * (image - start_image)[None])[2].sum(axis=0)
    attribution = (image - start_image) * total / len(alphas)
    return normalised(np.abs(attribution.sum(axis=-1)))
