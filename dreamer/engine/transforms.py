"""Random transforms of the image before a step's gradient: small objects composed from a list.

One module for both paths (lucid's ``transform.py``): ``Rotate``, ``Scale``
and ``Shift`` each draw their part of a ``Move`` from a NumPy Generator, in
list order, so a list of them is the whole transform:

- the pixel path (``dreamer.engine.ascent``) draws ``pixel_transforms(config)``
  ([Rotate, Scale]) each step, takes the gradient at the moved copy of the
  image and maps it back (``transformed_gradient``, with SciPy); its random
  shift (jitter) is the ascent's roll;
- the Fourier path (``dreamer.param.render``) draws
  ``robustness_transforms(moves)`` ([Rotate, Scale, Shift]) for every image
  of a batch (``draw_moves``) and applies them, after padding with grey,
  inside the compiled step (``apply_moves``, lucid's pad, jitter,
  random_scale and random_rotate in one bilinear resampling).

A gradient taken at a randomly moved copy of the image makes the result
robust to small changes of view: a pattern that only works at one exact
pixel alignment (grain, aliasing) does not survive; one the network really
responds to does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from dreamer.config import DreamConfig
from dreamer.engine.tiles import tiled_gradient

#: The grey that padding and the area uncovered by a rotation show.
FILL = 0.5


@dataclass(frozen=True)
class Move:
    """One drawn transform: a rotation in degrees, a scale factor, a shift (y, x) in pixels."""

    angle: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Rotate:
    """A random rotation of up to ``degrees`` either way (0: none, and nothing drawn)."""

    degrees: float

    def draw(self, move: Move, rng: np.random.Generator) -> Move:
        return replace(move, angle=float(rng.uniform(-self.degrees, self.degrees))) if self.degrees else move


@dataclass(frozen=True)
class Scale:
    """A random scale factor between 1/(1 + jitter) and 1 + jitter, even on a log scale (0: none)."""

    jitter: float

    def draw(self, move: Move, rng: np.random.Generator) -> Move:
        if not self.jitter:
            return move
        return replace(move, scale=float(np.exp(rng.uniform(-1, 1) * math.log1p(self.jitter))))


@dataclass(frozen=True)
class Shift:
    """A random whole-pixel shift of up to ``pixels`` each axis, either way (0: none)."""

    pixels: int

    def draw(self, move: Move, rng: np.random.Generator) -> Move:
        if not self.pixels:
            return move
        shift = rng.integers(-self.pixels, self.pixels + 1, size=2)
        return replace(move, shift=(float(shift[0]), float(shift[1])))


def draw_move(transforms: Sequence, rng: np.random.Generator) -> Move:
    """The transforms of the list drawn in order from ``rng``, composed into one Move."""
    move = Move()
    for transform in transforms:
        move = transform.draw(move, rng)
    return move


def pixel_transforms(config: DreamConfig) -> list:
    """The pixel path's transforms: ``--rotate`` and ``--scale-jitter``."""
    return [Rotate(config.rotate), Scale(config.scale_jitter)]


def robustness_transforms(moves) -> list:
    """A rendering from noise's transforms (a ``dreamer.param.settings.Moves``; its pad is applied apart)."""
    return [Rotate(moves.rotate), Scale(moves.scale), Shift(moves.jitter)]


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
    move = draw_move(pixel_transforms(config), rng)
    if move.angle == 0.0 and move.scale == 1.0:
        return tiled_gradient(gradient, image, tile, rng)
    grad, value = tiled_gradient(gradient, affine(image, move.angle, move.scale), tile, rng)
    return affine(grad, -move.angle, 1.0 / move.scale), value


def draw_moves(moves, rngs: list[np.random.Generator]) -> np.ndarray:
    """One row (angle in radians, scale factor, shift y, shift x) per image, each from its own Generator."""
    rows = []
    for rng in rngs:
        move = draw_move(robustness_transforms(moves), rng)
        rows.append((math.radians(move.angle), move.scale, *move.shift))
    return np.asarray(rows, np.float32).reshape(len(rngs), 4)


def apply_moves(images, draws, pad: int):
    """Images (N, H, W, 3) -> (N, H + 2 pad, W + 2 pad, 3), each moved by its row of ``draws``.

    The output's centre shows the input's centre shifted by the row's shift,
    rotated and scaled about it; whatever falls outside the input is grey.
    """
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    out_h, out_w = shape[1] + 2 * pad, shape[2] + 2 * pad
    angle, scale, shift_y, shift_x = draws[:, 0], draws[:, 1], draws[:, 2], draws[:, 3]
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    centre_out_x = (tf.cast(out_w, tf.float32) - 1.0) / 2.0
    centre_out_y = (tf.cast(out_h, tf.float32) - 1.0) / 2.0
    centre_in_x = (width - 1.0) / 2.0 + shift_x
    centre_in_y = (height - 1.0) / 2.0 + shift_y
    # output (x, y) -> input: A (out - centre_out) + centre_in, with A = R(angle) / scale
    transforms = tf.stack([
        cos, -sin, centre_in_x - cos * centre_out_x + sin * centre_out_y,
        sin, cos, centre_in_y - sin * centre_out_x - cos * centre_out_y,
        tf.zeros_like(cos), tf.zeros_like(cos),
    ], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.stack([out_h, out_w]),
        fill_value=tf.constant(FILL, tf.float32), interpolation="BILINEAR", fill_mode="CONSTANT",
    )
