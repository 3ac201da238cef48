"""Robustness transforms: the random moves a feature visualisation must survive.

Before each step's gradient, every image of the batch is padded with grey,
scaled by a random factor, rotated by a random angle and shifted by a random
offset (lucid's pad, jitter, random_scale and random_rotate), all in one
bilinear resampling, so the network sees a slightly different view each
step. A pattern that only works at one exact pixel alignment (grain, aliasing)
does not survive this; a pattern the network really responds to does.

``draw_moves`` picks the random numbers with a NumPy Generator (one row per
image); ``apply_moves`` applies them inside the compiled step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dreamer.errors import DreamerError

#: The grey that padding and the area uncovered by a rotation show.
FILL = 0.5


@dataclass(frozen=True)
class Moves:
    """The random transforms' ranges.

    Attributes:
        pad: grey pixels added on every side before the other moves.
        jitter: the largest shift in pixels (each axis, either way).
        scale: the largest relative scale change (0.1: between 1/1.1 and 1.1).
        rotate: the largest rotation in degrees (either way).
    """

    pad: int = 12
    jitter: int = 8
    scale: float = 0.1
    rotate: float = 10.0

    def __post_init__(self):
        checks = [
            (self.pad >= 0, "pad must be 0 or more"),
            (self.jitter >= 0, "jitter must be 0 or more"),
            (math.isfinite(self.scale) and 0 <= self.scale < 1, "scale jitter must be in [0, 1)"),
            (math.isfinite(self.rotate) and 0 <= self.rotate <= 180, "rotation must be between 0 and 180 degrees"),
        ]
        for ok, message in checks:
            if not ok:
                raise DreamerError(message)


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
