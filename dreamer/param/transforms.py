"""Robustness transforms: the random moves a feature visualisation must survive.

Before each step's gradient, every image of the batch is padded with grey,
scaled by a random factor, rotated by a random angle and shifted by a random
offset (lucid's pad, jitter, random_scale and random_rotate), all in one
bilinear resampling, so the network sees a slightly different view each
step. A pattern that only works at one exact pixel alignment (grain, aliasing)
does not survive this; a pattern the network really responds to does.

The ranges are a ``dreamer.config.Moves``. ``draw_moves`` picks the random numbers with a NumPy Generator (one row per
image), so every Keras backend sees the same moves; ``apply_moves`` applies
them inside the compiled step (``keras.ops``).
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
    The image is padded with grey first, then resampled at its padded size
    (bilinear, grey outside), which is the same as sampling the unpadded
    image with a grey fill.
    """
    from keras import ops

    images = ops.convert_to_tensor(images, "float32")
    draws = ops.convert_to_tensor(draws, "float32")
    padded = ops.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=FILL)
    shape = ops.shape(padded)
    angle, scale, shift_y, shift_x = draws[:, 0], draws[:, 1], draws[:, 2], draws[:, 3]
    cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
    centre_x = (ops.cast(shape[2], "float32") - 1.0) / 2.0
    centre_y = (ops.cast(shape[1], "float32") - 1.0) / 2.0
    # output (x, y) -> input: A (out - centre) + centre + shift, with A = R(angle) / scale
    transforms = ops.stack([
        cos, -sin, centre_x + shift_x - cos * centre_x + sin * centre_y,
        sin, cos, centre_y + shift_y - sin * centre_x - cos * centre_y,
        ops.zeros_like(cos), ops.zeros_like(cos),
    ], axis=1)
    return ops.image.affine_transform(padded, transforms, interpolation="bilinear", fill_mode="constant",
                                      fill_value=FILL)
