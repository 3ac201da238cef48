"""Array helpers that bound the memory of large images: no full-size temporaries."""

from __future__ import annotations

import numpy as np


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
