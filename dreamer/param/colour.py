"""Decorrelated colour: the square root of the colour covariance of photographs.

Neighbouring RGB channels of natural photos are strongly correlated (a
bright pixel is bright in all three). Optimising the three channels
independently therefore spends most of its effort on colour combinations
photos rarely have, which shows as rainbow grain. Feature visualisation
(Olah et al., Distill 2017) instead optimises three *decorrelated* channels
and maps them to RGB with a square root ``S`` of the colour covariance
``C`` (``S @ S.T == C``): equal steps in the decorrelated channels are then
equally likely colour changes in photos.

``COLOUR_SQRT`` was computed here, with ``colour_sqrt(colour_covariance(...))``,
from the five colour photos in ``samples/`` (astronaut, chelsea, coffee,
hubble_deep_field, rocket; coins is grey and left out): the mean of their
per-photo 3x3 covariances of RGB in [0, 1], and ``U * sqrt(eigenvalues)``
of its eigen-decomposition, strongest component first. Its columns' norms
are 0.323, 0.108 and 0.034 (1 : 0.34 : 0.10; the matrix lucid publishes for
ImageNet has 1 : 0.27 : 0.13). ``tests/test_param.py`` recomputes it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: The photos ``COLOUR_SQRT`` was computed from (in the repository's ``samples/``).
SAMPLE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "rocket.jpg")

#: A square root of the sample photos' colour covariance (rows R, G, B; columns: components).
COLOUR_SQRT = np.array([
    [0.1890, -0.0824, 0.0096],
    [0.1912, 0.0174, -0.0266],
    [0.1787, 0.0685, 0.0183],
], np.float32)


def colour_covariance(photos: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of the photos' 3x3 RGB covariances (each photo HxWx3 in [0, 1] counts once)."""
    covariances = [np.cov(np.asarray(p, np.float64).reshape(-1, 3), rowvar=False) for p in photos]
    return np.mean(covariances, axis=0)


def colour_sqrt(covariance: np.ndarray) -> np.ndarray:
    """``U * sqrt(eigenvalues)`` of a covariance: a matrix ``S`` with ``S @ S.T == covariance``.

    Columns are the principal colour components, largest first, each signed
    so that its entries sum to a positive number (brightness is +).
    """
    values, vectors = np.linalg.eigh(np.asarray(covariance, np.float64))
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    vectors = vectors * np.where(vectors.sum(axis=0) < 0, -1.0, 1.0)
    return vectors * np.sqrt(values)


def decorrelation_matrix(sqrt: np.ndarray = COLOUR_SQRT) -> np.ndarray:
    """``sqrt`` scaled so its largest column has unit norm: decorrelated -> RGB, as ``rgb = d @ M.T``."""
    sqrt = np.asarray(sqrt, np.float32)
    return sqrt / np.max(np.linalg.norm(sqrt, axis=0))
