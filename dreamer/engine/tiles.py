"""Tiles: the gradient of a large image computed piece by piece, on a random grid.

A random tile grid at each step keeps seams from staying in one place; tiles
aligned to the network's likely stride match the whole image's gradient away
from their edges.
"""

from __future__ import annotations

import numpy as np

#: Images with at most this many pixels are dreamed in one piece by default.
AUTO_UNTILED_PIXELS = 1024 * 1024
#: The tile side chosen when an image is too large to dream in one piece.
AUTO_TILE_SIZE = 512


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


def tiled_gradient(gradient, image: np.ndarray, tile: int | None,
                   rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The gradient of the whole image (and the objective), computed tile by tile.

    ``gradient(image, weight, frame)`` returns (gradient, weight * objective)
    for one piece; ``frame`` is the piece's (top, left, height, width) and the
    whole image's (height, width). Each tile's objective is weighted by its
    share of the pixels, so the sum over tiles approximates the objective of
    the whole image.
    """
    height, width = image.shape[:2]
    if tile is None:
        return gradient(image)
    ys = tile_edges(height, tile, random_offset(tile, rng))
    xs = tile_edges(width, tile, random_offset(tile, rng))
    grad = np.empty_like(image)
    total = 0.0
    for y0, y1 in zip(ys[:-1], ys[1:]):
        for x0, x1 in zip(xs[:-1], xs[1:]):
            weight = (y1 - y0) * (x1 - x0) / (height * width)
            frame = (y0, x0, y1 - y0, x1 - x0, height, width)
            grad[y0:y1, x0:x1], value = gradient(image[y0:y1, x0:x1], weight, frame)
            total += value
    return grad, total
