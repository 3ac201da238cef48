"""Augmentation for small sets: variants of an image, slightly shifted, scaled and brightened.

``variant(batch, indices, number, seed)`` returns the ``number``-th variant
of each image of a batch; its random amounts come from a generator seeded
by (seed, the image's index, number), so a variant is the same whatever the
batch size. The probe keeps every variant of an image, and its transform,
in the image's fold (its group): the classifier is never tested on a
variant of an image it was trained on. Numpy only.
"""

from __future__ import annotations

import numpy as np

from dreamer.probe.transforms import shift_right, zoom

#: Largest shift, as a fraction of the side; scale and brightness factors are drawn from these ranges.
SHIFT = 0.08
SCALE = (0.9, 1.12)
BRIGHTNESS = (0.8, 1.2)


def variant(batch: np.ndarray, indices: np.ndarray, number: int, seed: int) -> np.ndarray:
    """The ``number``-th variant (from 1) of each NHWC image in [0, 1]; ``indices``: the images' positions."""
    out = np.empty_like(batch)
    side = batch.shape[2]
    for row, index in enumerate(indices):
        rng = np.random.default_rng([seed, int(index), number])
        dx, dy = (int(round(v)) for v in rng.uniform(-SHIFT, SHIFT, 2) * side)
        image = zoom(batch[row:row + 1], float(rng.uniform(*SCALE)))
        image = shift_right(image, dx)
        image = np.swapaxes(shift_right(np.swapaxes(image, 1, 2), dy), 1, 2)
        out[row] = np.clip(image[0] * rng.uniform(*BRIGHTNESS), 0.0, 1.0)
    return out
