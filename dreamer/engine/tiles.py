"""Tiles: the gradient of a large image computed piece by piece, on a random grid.

A random tile grid at each step keeps seams from staying in one place. All
tiles of an octave have one shape: TensorFlow's oneDNN kernels keep a
compiled primitive (and its buffers) for every input shape they meet, so
tile shapes that change at every step made memory grow with the steps
(a 4096x4096 dream at 10 steps per octave peaked 640 MiB above one at 1).
"""

from __future__ import annotations

import numpy as np

#: Images with at most this many pixels are dreamed in one piece by default.
AUTO_UNTILED_PIXELS = 1024 * 1024
#: The tile side chosen when an image is too large to dream in one piece.
AUTO_TILE_SIZE = 512


def tile_windows(length: int, tile: int, offset: int) -> tuple[int, list[tuple[int, int, int]]]:
    """Cut a circle of ``length`` pixels into windows of one length, none longer than ``tile``.

    The windows' length is ``ceil(length / n)`` for the fewest ``n`` windows
    of at most ``tile``, the same at every step of an octave. The first
    window starts at ``offset``, and a window may wrap around the end (as
    the 2015 notebook's rolled image does); where two windows overlap (by
    fewer than ``n`` pixels) each keeps its half.

    Returns:
        (size, windows): the windows' length, and (start, keep_from,
        keep_to) per window: it covers the pixels ``(start + i) % length``
        for ``0 <= i < size``, and its gradient is used for ``keep_from <= i
        < keep_to``. The kept parts cover the circle once.
    """
    if length <= tile:
        return length, [(0, 0, length)]
    count = -(-length // tile)
    size = -(-length // count)
    overlap = count * size - length
    windows = [(offset + k * size, 0, size) for k in range(count)]
    if overlap:  # the last window ends where the first starts; the seam is in the middle of the overlap
        windows[-2] = (windows[-2][0], 0, size - (overlap - overlap // 2))
        windows[-1] = (offset + length - size, overlap // 2, size)
    return size, [(start % length, keep_from, keep_to) for start, keep_from, keep_to in windows]


def choose_tile_size(shape: tuple[int, int], tile_size: int | None) -> int | None:
    """The tile side for an image of ``shape``; None means one piece."""
    height, width = shape
    if tile_size is None:
        return None if height * width <= AUTO_UNTILED_PIXELS else AUTO_TILE_SIZE
    return None if max(height, width) <= tile_size else tile_size


def tiled_gradient(gradient, image: np.ndarray, tile: int | None,
                   rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The gradient of the whole image (and the objective), computed in windows of one shape.

    ``gradient(image, weight, frame)`` returns (gradient, weight * objective)
    for one piece; ``frame`` is the piece's (top, left, height, width) and the
    whole image's (height, width). The windows (see ``tile_windows``) start at
    a random place on each axis and wrap around the image's edges (the part
    that wraps is shorter than half the image, so it never holds the image's
    centre: a neuron's place is still ``centre - top``). Each window's
    objective is weighted by its share of the pixels, so the gradient's scale
    does not depend on the tiling; the objective adds up the windows' kept
    parts, an approximation of the whole image's.
    """
    if tile is None:
        return gradient(image)
    height, width = image.shape[:2]
    tile_height, rows = tile_windows(height, tile, int(rng.integers(height)))
    tile_width, columns = tile_windows(width, tile, int(rng.integers(width)))
    weight = tile_height * tile_width / (height * width)
    grad = np.empty_like(image)
    total = 0.0
    for top, y_from, y_to in rows:
        ys = (top + np.arange(tile_height)) % height
        for left, x_from, x_to in columns:
            xs = (left + np.arange(tile_width)) % width
            frame = (top, left, tile_height, tile_width, height, width)
            window, value = gradient(image[np.ix_(ys, xs)], weight, frame)
            grad[np.ix_(ys[y_from:y_to], xs[x_from:x_to])] = window[y_from:y_to, x_from:x_to]
            total += value * (y_to - y_from) * (x_to - x_from) / (tile_height * tile_width)
    return grad, total

