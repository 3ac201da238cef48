"""Robustness transforms: the random moves a feature visualisation must survive.

Before each step's gradient, every image of the batch is padded with grey,
scaled by a random factor, rotated by a random angle and shifted by a random
offset (lucid's pad, jitter, random_scale and random_rotate), all in one
bilinear resampling, so the network sees a slightly different view each
step. A pattern that only works at one exact pixel alignment (grain, aliasing)
does not survive this; a pattern the network really responds to does.

The ranges are a ``dreamer.config.Moves``. ``draw_moves`` picks the random numbers with a NumPy Generator (one row per
image); ``apply_moves`` applies them inside the compiled step.
"""

from __future__ import annotations

import math

import numpy as np

from dreamer.param.settings import Moves

#: The grey that padding and the area uncovered by a rotation show.
FILL = 0.5


def draw_moves(moves: Moves, rngs: list[np.random.Generator]) -> np.ndarray:
    """One row (angle in radians, scale factor, shift y, shift x) per image, each from its own Generator."""
    rows = []
    for rng in rngs:
        angle = math.radians(rng.uniform(-moves.rotate, moves.rotate)) if moves.rotate else 0.0
        scale = math.exp(rng.uniform(-1.0, 1.0) * math.log1p(moves.scale)) if moves.scale else 1.0
        shift = rng.integers(-moves.jitter, moves.jitter + 1, size=2) if moves.jitter else (0, 0)
        rows.append((angle, scale, float(shift[0]), float(shift[1])))
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
