"""Gradient ascent on the pixels: the step, the tiles and the octaves.

``run`` takes a float32 HxWx3 image in [0, 1], a model adapter, an objective
and a frozen ``DreamConfig``, and returns the dreamed image in the same
format. It prints and saves nothing: progress goes to an optional callback.

One step: roll the image by a random shift (jitter), compute the gradient of
the objective tile by tile (a random tile grid each step, so seams never stay
in one place), roll the gradient back, divide it by its mean absolute value,
move every pixel by ``step_size`` (in 0-255 units) along it, and clip.

Octaves, as in Google's 2015 notebook: dream on a downscaled image first; at
each larger scale add the upscaled *detail* (dreamed minus original) to the
original at that scale and continue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dreamer.errors import DreamerError
from dreamer.images import resize

#: Images with at most this many pixels are dreamed in one piece by default.
AUTO_UNTILED_PIXELS = 1024 * 1024
#: The tile side chosen when an image is too large to dream in one piece.
AUTO_TILE_SIZE = 512


class NumericalError(DreamerError):
    """The model produced NaN or Inf; continuing would write a broken image."""


@dataclass(frozen=True)
class DreamConfig:
    """Every setting of one dream. Pixel quantities are on the 0-255 scale.

    Attributes:
        iterations: ascent steps per octave.
        octaves: how many scales, the full size included.
        octave_scale: the ratio between one octave's size and the next.
        step_size: the mean absolute change of a pixel per step, in 0-255 units.
        jitter: the largest random shift (pixels) before each step.
        tile_size: the tile side for the gradient; None picks one from the
            image size (one piece up to about a megapixel, 512 px tiles above).
        seed: the seed of the random shifts; the same seed, input and settings
            give the same pixels on the same machine.
        laplacian_levels: split the gradient into a Laplacian pyramid of this
            many levels and give each level unit RMS before the step (the
            TensorFlow 2015 DeepDream notebook's smoothing); 0 or 1: off.
        tv: the strength of a total-variation penalty on what the dream adds
            (the image minus the octave's start), relative to the normalised
            gradient; 0: off.
        rotate: the largest random rotation (degrees) of the image before each
            step's gradient (for robustness, as feature visualisation does).
        scale_jitter: the largest random relative scale change before each
            step's gradient (0.05: between 1/1.05 and 1.05).
    """

    iterations: int = 10
    octaves: int = 4
    octave_scale: float = 1.4
    step_size: float = 1.5
    jitter: int = 32
    tile_size: int | None = None
    seed: int = 0
    laplacian_levels: int = 0
    tv: float = 0.0
    rotate: float = 0.0
    scale_jitter: float = 0.0

    def __post_init__(self):
        checks = [
            (self.iterations >= 1, "iterations must be at least 1"),
            (self.octaves >= 1, "octaves must be at least 1"),
            (math.isfinite(self.octave_scale) and self.octave_scale > 1.0, "octave scale must be a number above 1"),
            (math.isfinite(self.step_size) and self.step_size > 0, "step size must be a positive number"),
            (self.jitter >= 0, "jitter must be 0 or more"),
            (self.tile_size is None or self.tile_size >= 16, "tile size must be at least 16"),
            (0 <= self.laplacian_levels <= 12, "laplacian levels must be between 0 and 12"),
            (math.isfinite(self.tv) and self.tv >= 0, "tv strength must be 0 or more"),
            (math.isfinite(self.rotate) and 0 <= self.rotate <= 180, "rotation must be between 0 and 180 degrees"),
            (math.isfinite(self.scale_jitter) and 0 <= self.scale_jitter < 1, "scale jitter must be in [0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise DreamerError(message)


@dataclass(frozen=True)
class Progress:
    """What the engine reports: a step done, or a note (``message``) for the user."""

    octave: int
    octaves: int
    step: int
    steps: int
    shape: tuple[int, int]
    loss: float | None = None
    message: str | None = None


ProgressCallback = Callable[[Progress], None]


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


def tile_edges(length: int, tile: int, offset: int) -> list[int]:
    """Cut ``[0, length)`` into pieces of ``tile`` starting at ``offset``.

    A piece shorter than half a tile at either end is merged into its
    neighbour, so every piece is at least ``tile // 2`` long (or the whole
    length). Returns the edges, first 0 and last ``length``.
    """
    if length <= tile:
        return [0, length]
    cuts = list(range(offset % tile, length, tile))
    edges = [0] + [c for c in cuts if 0 < c < length] + [length]
    half = tile // 2
    if len(edges) > 2 and edges[1] - edges[0] < half:
        del edges[1]
    if len(edges) > 2 and edges[-1] - edges[-2] < half:
        del edges[-2]
    return edges


def random_offset(tile: int, rng: np.random.Generator) -> int:
    """A random tile-grid offset, a multiple of the network's likely total stride.

    Aligning tiles to 32 px (or the largest power of two below the tile side)
    keeps each tile's strided sampling grid the same as the whole image's, so
    a tile's gradient matches the whole image's away from its edges.
    """
    align = 1 << (min(tile, 32).bit_length() - 1)
    return int(rng.integers(-(-tile // align))) * align


def choose_tile_size(shape: tuple[int, int], tile_size: int | None) -> int | None:
    """The tile side for an image of ``shape``; None means one piece."""
    height, width = shape
    if tile_size is None:
        return None if height * width <= AUTO_UNTILED_PIXELS else AUTO_TILE_SIZE
    return None if max(height, width) <= tile_size else tile_size


class GradientFunction:
    """The compiled gradient of an objective with respect to an image's pixels.

    Calling it with an HxWx3 float32 array in [0, 1] and a weight returns
    (weight * objective, its gradient). It is traced once for unknown height
    and width, so new octave and tile sizes don't recompile. A tile's place in
    the whole image (``frame``) reaches the objective as
    ``activations[objectives.FRAME]``.

    The network runs as rewritten by ``dreamer.models.rewrite`` (BatchNorms
    folded into convolutions; bfloat16 layers with ``precision="bfloat16"``,
    or with ``"auto"`` on hardware with native bfloat16). The image, the
    objective and the gradient are float32 whatever the precision.
    ``self.precision`` says which was used.

    Raises:
        DreamerError: ``precision="bfloat16"`` for a model that can't be
            rewritten, or an unknown precision.
    """

    def __init__(self, adapter, objective, precision: str = "float32"):
        import tensorflow as tf

        from dreamer.objectives import FRAME

        self.adapter = adapter
        self.objective = objective
        features, self.precision = fast_feature_model(adapter, objective.layers(), precision)
        layer_names = objective.layers()

        def activations(x):
            out = features(x, training=False)
            if not isinstance(out, dict):
                out = {layer_names[0]: out}
            return {name: tf.cast(value, tf.float32) for name, value in out.items()}

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None, 3], tf.float32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([6], tf.float32),
            ],
            reduce_retracing=True,
        )
        def gradient(image, weight, frame):
            with tf.GradientTape() as tape:
                tape.watch(image)
                loss = weight * objective({**activations(adapter.preprocess(image[None])), FRAME: frame})
            return loss, tape.gradient(loss, image)

        self._gradient = gradient

    def __call__(self, image: np.ndarray, weight: float = 1.0,
                 frame: tuple[int, int, int, int, int, int] | None = None) -> tuple[float, np.ndarray]:
        """(weight * objective, gradient) of ``image``; ``frame``: (top, left, height, width) of ``image``
        in the whole image, then the whole image's (height, width); default: ``image`` is the whole image."""
        height, width = image.shape[:2]
        frame = (0, 0, height, width, height, width) if frame is None else frame
        loss, grad = self._gradient(image, np.float32(weight), np.asarray(frame, np.float32))
        return float(loss), grad.numpy()

    def tiled(self, image: np.ndarray, tile: int | None, rng: np.random.Generator) -> tuple[float, np.ndarray]:
        """The gradient of the whole image, computed tile by tile.

        Each tile's objective is weighted by its share of the pixels, so the
        sum over tiles approximates the objective of the whole image.
        """
        height, width = image.shape[:2]
        if tile is None:
            return self(image)
        ys = tile_edges(height, tile, random_offset(tile, rng))
        xs = tile_edges(width, tile, random_offset(tile, rng))
        grad = np.empty_like(image)
        total = 0.0
        for y0, y1 in zip(ys[:-1], ys[1:]):
            for x0, x1 in zip(xs[:-1], xs[1:]):
                weight = (y1 - y0) * (x1 - x0) / (height * width)
                frame = (y0, x0, y1 - y0, x1 - x0, height, width)
                loss, grad[y0:y1, x0:x1] = self(image[y0:y1, x0:x1], weight, frame)
                total += loss
        return total, grad


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


def _affine(array: np.ndarray, angle: float, scale: float) -> np.ndarray:
    """``array`` rotated by ``angle`` degrees and scaled by ``scale`` about its centre (edges reflected)."""
    from scipy.ndimage import affine_transform

    theta = math.radians(angle)
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]) / scale
    matrix = np.eye(3)
    matrix[:2, :2] = rotation
    centre = np.array([(array.shape[0] - 1) / 2, (array.shape[1] - 1) / 2, 0.0])
    offset = centre - matrix @ centre
    return affine_transform(array, matrix, offset=offset, order=1, mode="reflect").astype(np.float32)


def _transformed_gradient(image, gradient, config, rng, tile):
    """The gradient at a randomly rotated and scaled copy of ``image``, mapped back."""
    angle = float(rng.uniform(-config.rotate, config.rotate)) if config.rotate else 0.0
    scale = float(np.exp(rng.uniform(-1, 1) * math.log1p(config.scale_jitter))) if config.scale_jitter else 1.0
    if angle == 0.0 and scale == 1.0:
        return gradient.tiled(image, tile, rng)
    loss, grad = gradient.tiled(_affine(image, angle, scale), tile, rng)
    return loss, _affine(grad, -angle, 1.0 / scale)


def fast_feature_model(adapter, layer_names, precision: str = "float32"):
    """The adapter's feature model rewritten for speed, and the precision it runs in.

    A model that can't be rewritten is used as it is, in float32, unless
    bfloat16 was asked for explicitly.

    Raises:
        DreamerError: ``precision="bfloat16"`` and the model can't be rewritten.
    """
    from dreamer.models.rewrite import RewriteError, rewrite_for_gradients
    from dreamer.precision import detect_precision

    resolved = detect_precision(precision)
    features = adapter.feature_model(layer_names)
    try:
        return rewrite_for_gradients(features, resolved), resolved
    except RewriteError as exc:
        if precision == "bfloat16":
            raise DreamerError(f"model {adapter.name!r} can't run in bfloat16 ({exc}); use --precision float32") from None
        return features, "float32"


def ascent_step(
    image: np.ndarray,
    gradient: GradientFunction,
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
        mask: HxW weights in [0, 1]; each pixel's change is multiplied by its
            weight (0: the pixel does not change).
        reference: the undreamed image at this octave's size; with
            ``config.tv`` the total variation of ``image - reference`` (what
            the dream added) is penalised (None: of the image itself).
    """
    shift = tuple(int(s) for s in rng.integers(-config.jitter, config.jitter + 1, size=2))
    rolled = np.roll(image, shift, axis=(0, 1))
    tile = choose_tile_size(image.shape[:2], config.tile_size)
    loss, grad = _transformed_gradient(rolled, gradient, config, rng, tile)
    scale = mean_abs(grad)  # NaN or Inf anywhere in grad makes it NaN or Inf
    if not (math.isfinite(loss) and math.isfinite(scale)):
        raise NumericalError(
            "the model produced NaN or Inf values in the gradient; try another layer, "
            "a smaller step size, or check the model's preprocessing"
        )
    step = roll_into(rolled, grad, (-shift[0], -shift[1]))  # the rolled image is no longer needed
    del grad
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
    return step.astype(np.float32, copy=False), loss


def mean_abs(array: np.ndarray, rows: int = 256) -> float:
    """The mean absolute value, in float64, summed in bands of ``rows`` (no full-size temporary)."""
    total = 0.0
    for start in range(0, array.shape[0], rows):
        total += float(np.abs(array[start:start + rows]).sum(dtype=np.float64))
    return total / max(array.size, 1)


def roll_into(out: np.ndarray, array: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    """``out[...] = np.roll(array, shift, axis=(0, 1))`` without a temporary; returns ``out``."""
    height, width = array.shape[:2]
    dy, dx = shift[0] % height, shift[1] % width
    for out_y, in_y in ((slice(dy, height), slice(0, height - dy)), (slice(0, dy), slice(height - dy, height))):
        for out_x, in_x in ((slice(dx, width), slice(0, width - dx)), (slice(0, dx), slice(width - dx, width))):
            out[out_y, out_x] = array[in_y, in_x]
    return out


def run(
    image: np.ndarray,
    gradient: GradientFunction,
    config: DreamConfig,
    progress: ProgressCallback | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Dream: gradient ascent over octaves. Returns an HxWx3 float32 image in [0, 1].

    Args:
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
    shapes, skipped = octave_shapes(
        height, width, config.octaves, config.octave_scale, gradient.adapter.min_size
    )
    if skipped:
        report(
            Progress(0, len(shapes), 0, config.iterations, shapes[0], message=(
                f"skipped {skipped} octave(s) smaller than the model's minimum of "
                f"{gradient.adapter.min_size} px"
            ))
        )
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
            current, loss = ascent_step(current, gradient, config, rng, weights, base)
            report(Progress(octave, len(shapes), step + 1, config.iterations, shape, loss))
        if octave < len(shapes) - 1:  # the last octave's result is the answer; its detail would go unused
            detail = current - base
    if mask is not None:
        current = (mask[..., None] * current + (1.0 - mask[..., None]) * image).astype(np.float32)
    return current
