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


def spectrum_to_image(spectrum, scale, odd_width: bool):
    """Spectra (N, 3, H, W//2+1, 2) -> images (N, H, W, 3) in [0, 1], as a float32 tensor (keras.ops).

    The inverse 2-D real FFT is an inverse complex FFT over the rows (as the
    conjugate of the forward FFT of the conjugate) then an inverse real FFT
    over the columns: the pieces ``keras.ops`` has on every backend.

    Args:
        spectrum: the parameters (a tensor or array).
        scale: ``frequency_scale(H, W)``.
        odd_width: whether W is odd (it can't be read off the spectrum then).
    """
    from keras import ops

    spectrum = ops.convert_to_tensor(spectrum, "float32")
    real, imag = spectrum[..., 0] * scale, spectrum[..., 1] * scale
    rows = ops.shape(spectrum)[2]
    # the inverse FFT over H: conj(fft(conj(z))) / H, with H the last axis
    real, imag = ops.fft((ops.swapaxes(real, -1, -2), -ops.swapaxes(imag, -1, -2)))
    count = ops.cast(rows, "float32")
    real, imag = ops.swapaxes(real, -1, -2) / count, -ops.swapaxes(imag, -1, -2) / count
    width = 2 * (ops.shape(spectrum)[3] - 1) + int(odd_width)
    planes = ops.irfft((real, imag), fft_length=width)
    decorrelated = ops.transpose(planes, (0, 2, 3, 1)) / OUTPUT_DIVISOR
    rgb = ops.tensordot(decorrelated, decorrelation_matrix().T.astype(np.float32), axes=1)
    return ops.sigmoid(rgb)


def fourier_image(spectrum: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """NumPy convenience: spectra -> float32 images (N, H, W, 3) in [0, 1]."""
    from keras import ops

    height, width = size
    image = spectrum_to_image(spectrum, frequency_scale(height, width), width % 2 == 1)
    return np.asarray(ops.convert_to_numpy(image), np.float32)
