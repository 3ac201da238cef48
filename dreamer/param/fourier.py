"""The image as Fourier coefficients: the parameterisation that makes readable feature visualisations.

An image of H x W is held as the real FFT of three decorrelated colour
planes: a float32 array (N, 3, H, W // 2 + 1, 2) of real and imaginary
parts. To get pixels, each coefficient is multiplied by ``1 / frequency``
(``frequency_scale``), the planes go through the inverse real FFT, the
three planes are mapped to RGB by the colour square root
(``dreamer.param.colour``) and squashed into [0, 1] by a sigmoid.

Why: gradient steps on pixels give every spatial frequency the same step,
and the network's gradient is strongest at the highest ones, so pixel
ascent grows grain. Scaled by 1/frequency, equal steps on the parameters
are equal steps of a natural image's spectrum (photos fall off as about
1/f), so coarse structure grows as fast as fine detail. Any H and W work,
odd ones too (the inverse FFT is told the width).
"""

from __future__ import annotations

import numpy as np

from dreamer.param.colour import decorrelation_matrix

#: lucid's divisor of the inverse FFT's output: keeps the start near mid-grey after the sigmoid.
OUTPUT_DIVISOR = 4.0


def frequency_scale(height: int, width: int, decay_power: float = 1.0) -> np.ndarray:
    """The (H, W // 2 + 1) factor of each coefficient: ``1 / max(f, 1/max(H, W)) ** decay_power``.

    Multiplied by ``sqrt(H * W)`` so the inverse FFT keeps the parameters'
    energy (a unit-variance spectrum gives a unit-variance image).
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.sqrt(fy * fy + fx * fx)
    scale = 1.0 / np.maximum(frequency, 1.0 / max(height, width)) ** decay_power
    return (scale * np.sqrt(height * width)).astype(np.float32)


def initial_spectrum(count: int, height: int, width: int, rng: np.random.Generator,
                     sd: float = 0.01) -> np.ndarray:
    """``count`` random spectra (N, 3, H, W // 2 + 1, 2) of small normal noise: a near-grey start."""
    return rng.normal(0.0, sd, size=(count, 3, height, width // 2 + 1, 2)).astype(np.float32)


def spectrum_to_image(spectrum, scale, size):
    """Spectra (N, 3, H, W//2+1, 2) -> images (N, H, W, 3) in [0, 1], as a float32 tensor.

    Args:
        spectrum: the parameters (a tensor or array).
        scale: ``frequency_scale(H, W)``.
        size: (H, W) (the width can't be read off the spectrum when it is odd).
    """
    import tensorflow as tf

    coefficients = tf.complex(spectrum[..., 0], spectrum[..., 1]) * tf.cast(scale, tf.complex64)
    planes = tf.signal.irfft2d(coefficients, fft_length=tf.cast(size, tf.int32))
    decorrelated = tf.transpose(planes, (0, 2, 3, 1)) / OUTPUT_DIVISOR
    rgb = tf.tensordot(decorrelated, tf.constant(decorrelation_matrix().T), axes=1)
    return tf.sigmoid(rgb)


def fourier_image(spectrum: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """NumPy convenience: spectra -> float32 images (N, H, W, 3) in [0, 1]."""
    height, width = size
    return np.asarray(spectrum_to_image(spectrum, frequency_scale(height, width), (height, width)), np.float32)
