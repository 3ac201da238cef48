"""Gradient ascent on the pixels: one step, and the octaves around it.

``ascend`` takes a float32 HxWx3 image in [0, 1], an ``ObjectiveGradient``
and a frozen ``DreamConfig``, and returns the dreamed image in the same
format. It prints and saves nothing: progress goes to an optional callback.

One step: roll the image by a random shift (jitter), compute the gradient of
the objective tile by tile (``dreamer.engine.tiles``), possibly at a randomly
rotated and scaled copy (``dreamer.engine.transforms``), roll the gradient
back, divide it by its mean absolute value (or normalise a Laplacian pyramid
of it, ``dreamer.engine.filters``), move every pixel by ``step_size`` (in
0-255 units) along it, and clip.

Octaves, as in Google's 2015 notebook: dream on a downscaled image first; at
each larger scale add the upscaled *detail* (dreamed minus original) to the
original at that scale and continue.
"""

from __future__ import annotations

import math

import numpy as np

from dreamer.config import DreamConfig
from dreamer.engine.arrays import mean_abs, roll_into
from dreamer.engine.colors import common_change
from dreamer.engine.filters import laplacian_normalize, tv_gradient
from dreamer.engine.progress import Progress, ProgressCallback
from dreamer.engine.tiles import choose_tile_size
from dreamer.engine.transforms import transformed_gradient
from dreamer.errors import DreamerError
from dreamer.images import resize


class NumericalError(DreamerError):
    """The model produced NaN or Inf; continuing would write a broken image."""


def octave_shapes(
    height: int, width: int, octaves: int, scale: float, min_size: int
) -> tuple[list[tuple[int, int]], int]:
    """The (H, W) of each octave, smallest first, and how many were too small.

    Raises:
        DreamerError: even the full size is below ``min_size``.
    """
    if min(height, width) < min_size:
        raise DreamerError(
            f"image is {width}x{height}; the model needs at least {min_size}x{min_size} pixels"
        )
    shapes = [
        (max(1, round(height / scale**i)), max(1, round(width / scale**i))) for i in range(octaves)
    ]
    kept = [s for s in shapes if min(s) >= min_size]
    return kept[::-1], len(shapes) - len(kept)


def ascent_step(
    image: np.ndarray,
    gradient,
    config: DreamConfig,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
    reference: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """One jittered, normalised gradient-ascent step; returns (image, objective).

    Works in place on its own buffers (the input is not changed), so a step
    holds two image-sized arrays besides the input: this bounds the memory of
    large images.

    Args:
        gradient: an ObjectiveGradient (any ``f(image, weight) -> (grad, objective)``).
        mask: HxW weights in [0, 1]; each pixel's change is multiplied by its
            weight (0: the pixel does not change).
        reference: the undreamed image at this octave's size; with
            ``config.tv`` the total variation of ``image - reference`` (what
            the dream added) is penalised (None: of the image itself).
    """
    shift = tuple(int(s) for s in rng.integers(-config.jitter, config.jitter + 1, size=2))
    rolled = np.roll(image, shift, axis=(0, 1))
    tile = choose_tile_size(image.shape[:2], config.tile_size)
    grad, value = transformed_gradient(rolled, gradient, config, rng, tile)
    scale = mean_abs(grad)  # NaN or Inf anywhere in grad makes it NaN or Inf
    if not (math.isfinite(value) and math.isfinite(scale)):
        raise NumericalError(
            "the model produced NaN or Inf values in the gradient; try another layer, "
            "a smaller step size, or check the model's preprocessing"
        )
    step = roll_into(rolled, grad, (-shift[0], -shift[1]))  # the rolled image is no longer needed
    del grad
    if config.keep_colors:
        common_change(step)
    if config.laplacian_levels > 1:
        step = laplacian_normalize(step, config.laplacian_levels)
        scale = mean_abs(step)
    step /= max(scale, 1e-20)
    if config.tv:
        step -= config.tv * tv_gradient(image - reference if reference is not None else image)
    if mask is not None:
        step *= mask[..., None]
    step *= config.step_size / 255.0
    step += image
    np.clip(step, 0.0, 1.0, out=step)
    return step.astype(np.float32, copy=False), value


def ascend(
    image: np.ndarray,
    gradient,
    config: DreamConfig,
    progress: ProgressCallback | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Gradient ascent over octaves. Returns an HxWx3 float32 image in [0, 1].

    Args:
        gradient: an ObjectiveGradient (its ``min_size`` bounds the octaves).
        mask: None, or HxW weights in [0, 1] of the image's size: where the
            image may change (1), may not (0), or partly. It scales every
            step's change, and the result is blended with the input by it,
            so where it is 0 the result equals ``image`` exactly.

    Raises:
        DreamerError: the image is too small for the model.
        NumericalError: the gradient became NaN or Inf.
    """
    report = progress or (lambda _event: None)
    height, width = image.shape[:2]
    if mask is not None and mask.shape != (height, width):
        raise DreamerError(f"the mask is {mask.shape[1]}x{mask.shape[0]}; the image is {width}x{height}")
    shapes = _octaves_reported(image.shape[:2], config, gradient.min_size, report)
    rng = np.random.default_rng(config.seed)
    detail = np.zeros(shapes[0] + (3,), np.float32)
    current = image
    for octave, shape in enumerate(shapes):
        base = image if image.shape[:2] == shape else resize(image, shape)  # never changed in place
        current = resize(detail, shape, clip=False)
        del detail  # its buffer becomes the start of this octave
        current += base
        np.clip(current, 0.0, 1.0, out=current)
        weights = None if mask is None else resize(mask[..., None], shape)[..., 0]
        for step in range(config.iterations):
            current, value = ascent_step(current, gradient, config, rng, weights, base)
            report(Progress(octave, len(shapes), step + 1, config.iterations, shape, value))
        if octave < len(shapes) - 1:  # the last octave's result is the answer; its detail would go unused
            detail = current - base  # noqa: F841 - read at the start of the next octave
    if mask is not None:
        current = (mask[..., None] * current + (1.0 - mask[..., None]) * image).astype(np.float32)
    return current


def _octaves_reported(shape: tuple[int, int], config: DreamConfig, min_size: int,
                      report: ProgressCallback) -> list[tuple[int, int]]:
    """The octave shapes, smallest first; octaves too small for the model are reported as a note."""
    shapes, skipped = octave_shapes(shape[0], shape[1], config.octaves, config.octave_scale, min_size)
    if skipped:
        report(Progress(0, len(shapes), 0, config.iterations, shapes[0], message=(
            f"skipped {skipped} octave(s) smaller than the model's minimum of {min_size} px")))
    return shapes
