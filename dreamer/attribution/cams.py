"""Class activation maps at a layer: Grad-CAM, Grad-CAM++, Score-CAM; and occlusion.

Each function takes a ``Network`` built with ``layer`` (the CAM layer),
the H x W x 3 image in [0, 1] and the settings, and returns an H x W map
(non-negative, largest value 1) upsampled from the layer's grid. Score-CAM's
masked images and occlusion's patched images go through the network in
batches of ``settings.batch``.
"""

from __future__ import annotations

import numpy as np

from dreamer.attribution.arrays import in_batches, normalised, upsampled
from dreamer.attribution.gradient import gradients
from dreamer.errors import ModelError


def layer_gradients(network, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(activations, gradient) at the network's layer for one image, each h x w x C.

    Raises:
        ModelError: the target does not depend on that layer (it comes after the target's own layers).
    """
    _, activations, grad = gradients(network, image[None], network.layer)
    if not np.any(grad):
        raise ModelError(f"the target {network.target.label} does not depend on layer {network.layer!r} (a layer "
                         "after the target's own, or a dead one): choose --cam-layer at or before the target's layer")
    return activations[0], grad[0]


def gradcam(network, image: np.ndarray, settings) -> np.ndarray:
    """ReLU of the layer's channels weighed by their mean gradient (Selvaraju et al. 2017)."""
    activations, grad = layer_gradients(network, image)
    weights = grad.mean(axis=(0, 1))
    return normalised(upsampled(np.maximum(activations @ weights, 0.0), image.shape[:2]))


def gradcam_plus_plus(network, image: np.ndarray, settings) -> np.ndarray:
    """Grad-CAM with each position's share of the gradient in the channel weights (Chattopadhay et al. 2018)."""
    activations, grad = layer_gradients(network, image)
    squared, cubed = grad**2, grad**3
    denominator = 2.0 * squared + activations.sum(axis=(0, 1)) * cubed
    alpha = squared / np.where(denominator != 0.0, denominator, 1.0)
    weights = (alpha * np.maximum(grad, 0.0)).sum(axis=(0, 1))
    return normalised(upsampled(np.maximum(activations @ weights, 0.0), image.shape[:2]))


def scorecam(network, image: np.ndarray, settings) -> np.ndarray:
    """Each of the most active channels, upsampled and scaled to [0, 1], masks the image; a channel's
    weight is how much target score its masked image keeps above a black image (Wang et al. 2020)."""
    activations = network.activations(image[None], network.layer)[0]
    order = np.argsort(activations.mean(axis=(0, 1)))[::-1][: settings.scorecam_channels]
    shape = image.shape[:2]
    masks = np.stack([_unit(upsampled(activations[..., k], shape)) for k in order])
    base = float(network.score_batch(np.zeros((1, *image.shape), np.float32))[0])
    gains = np.concatenate([network.score_batch(image[None] * masks[start:stop, ..., None]) - base
                            for start, stop in in_batches(len(order), settings.batch)])
    weights = np.maximum(gains, 0.0)
    return normalised(upsampled(np.maximum(activations[..., order] @ weights, 0.0), shape))


def occlusion(network, image: np.ndarray, settings) -> np.ndarray:
    """The target's probability (a class; else its score) lost when a square patch is filled with the
    image's mean colour, averaged over the patches covering each pixel (Zeiler and Fergus 2014); stride
    half a patch."""
    height, width = image.shape[:2]
    patch = max(2, round(settings.occlusion_patch * min(height, width)))
    stride = max(1, patch // 2)
    fill = np.broadcast_to(image.mean(axis=(0, 1)), image.shape)
    corners = [(top, left) for top in _starts(height, patch, stride) for left in _starts(width, patch, stride)]
    base = float(network.probability_batch(image[None])[0])
    total = np.zeros((height, width), np.float32)
    count = np.zeros((height, width), np.float32)
    for start, stop in in_batches(len(corners), settings.batch):
        batch = np.repeat(image[None], stop - start, axis=0)
        for row, (top, left) in enumerate(corners[start:stop]):
            batch[row, top:top + patch, left:left + patch] = fill[top:top + patch, left:left + patch]
        drops = base - network.probability_batch(batch)
        for drop, (top, left) in zip(drops, corners[start:stop]):
            total[top:top + patch, left:left + patch] += drop
            count[top:top + patch, left:left + patch] += 1.0
    return normalised(total / np.maximum(count, 1.0))


def _starts(length: int, patch: int, stride: int) -> list[int]:
    last = max(0, length - patch)
    starts = list(range(0, last + 1, stride))
    return starts if starts[-1] == last else starts + [last]


def _unit(heat: np.ndarray) -> np.ndarray:
    low, high = float(heat.min()), float(heat.max())
    return (heat - low) / (high - low) if high > low else np.zeros_like(heat)
