"""Winograd's minimal filtering: 3x3 and 1x7/7x1 convolutions with fewer multiplications.

A stride-1 3x3 convolution's output, cut into 4x4 blocks, can be computed
from the 6x6 input tile under each block as ``A^T [(G k G^T) * (B^T d B)] A``
(F(4x4, 3x3); Lavin and Gray, "Fast Algorithms for Convolutional Neural
Networks", 2016): the input tile ``d`` and the kernel ``k`` are transformed
into 6x6 arrays whose element-wise products, summed over input channels,
are 36 matrix products of (tiles x in channels) by (in channels x out
channels). That is 36 multiplies per channel pair for 16 outputs instead of
144. A 1x7 kernel (InceptionV3's factorised 7x7) takes F(2, 7) along its
long axis: 8 multiplies per 2 outputs instead of 14. The transforms are
sums of a few neighbours with small coefficients; the kernel's is done once.

Where it pays: with oneDNN's AVX2 kernels (CPUs without AVX-512, where
TensorFlow's forward convolution runs the im2col ``gemm:jit`` kernel) and
64 channels or more on both sides; figures in
``docs/performance-float32.md`` and ``benchmarks/winograd_trial.py``.
Its rounding error is larger than a direct convolution's (about 3e-6 of the
output's largest value in float32 against 1e-7) and well below what
folding BatchNorms already changes.

This module holds the arithmetic every backend would share: the transform
matrices and the kernel's transform. The tensor program is
``dreamer.backend.tensorflow_impl.winograd_convolution``; which layers
qualify, ``dreamer.models.convolution.winograd_fits``.
"""

from __future__ import annotations

import numpy as np

#: Interpolation points of the transforms (the last point, infinity, is implied).
POINTS = (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5)

#: Kernel length r -> output block length m of F(m, r) along that axis: F(4, 3) (36 multiplies per
#: 16 outputs of a 3x3 kernel instead of 144), F(2, 7) (8 per 2 outputs of a 1x7 kernel instead of
#: 14), and a length-1 axis left as it is. Longer blocks need points whose rounding error grows.
BLOCKS = {1: 1, 3: 4, 7: 2}

#: The kernel shapes computed this way (InceptionV3's 3x3s and its factorised 7x7s).
KERNELS = ((3, 3), (1, 7), (7, 1))

#: Fewer channels than this on either side and the transforms cost more than they save.
MIN_CHANNELS = 64


def transforms(m: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B^T, G, A^T) of F(m, r), from ``m + r - 2`` of :data:`POINTS` and infinity (float64).

    With ``V`` the Vandermonde matrix of the points (infinity's row picks
    the highest power), a length ``m + r - 1`` input tile ``d`` and taps
    ``g`` give the ``m`` outputs ``sum_k d[i + k] g[k]`` as
    ``A^T [(G g) * (B^T d)]``, where ``B^T = V^-T``, and ``G`` and ``A``
    evaluate the taps and the outputs' polynomial at the points.
    """
    n = m + r - 1
    if n == 1:
        return np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1))
    points = POINTS[: n - 1]

    def evaluation(length: int) -> np.ndarray:
        rows = [[p**k for k in range(length)] for p in points]
        return np.array(rows + [[0.0] * (length - 1) + [1.0]])

    return np.linalg.inv(evaluation(n)).T, evaluation(r), evaluation(m).T


def transformed_kernel(kernel: np.ndarray) -> np.ndarray:
    """``G_h k G_w^T`` for every channel pair: [tile height x tile width, in, out] float32 (tile row-major)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    height, width = kernel.shape[:2]
    if (height, width) not in KERNELS:
        raise ValueError(f"no Winograd transform for a {height}x{width} kernel")
    g_h, g_w = transforms(BLOCKS[height], height)[1], transforms(BLOCKS[width], width)[1]
    u = np.einsum("ai,ijco,bj->abco", g_h, kernel, g_w)
    return u.reshape(g_h.shape[0] * g_w.shape[0], kernel.shape[2], kernel.shape[3]).astype(np.float32)


def gradient_kernel(kernel: np.ndarray) -> np.ndarray:
    """The kernel whose convolution is the input gradient: flipped in space, channels swapped."""
    return np.ascontiguousarray(np.transpose(np.asarray(kernel)[::-1, ::-1], (0, 1, 3, 2)))


def combinations(matrix: np.ndarray) -> list[list[tuple[int, float]]]:
    """Each row of a transform as (index, coefficient) pairs without the zeros: what to add up."""
    return [[(i, float(c)) for i, c in enumerate(row) if c != 0] for row in matrix]


def tiles(length, r: int):
    """How many output blocks cover the valid convolution of ``length`` pixels with ``r`` taps (ints or tensors)."""
    m = BLOCKS[r]
    return (length - r + m) // m
