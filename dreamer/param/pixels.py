"""The pixel parameterisation's start: mid-grey with a little seeded noise.

Rendering from noise with ``pixels`` is the engine's own gradient ascent
(``dreamer.engine.ascend``: octaves, jitter, normalised steps, optionally the
Laplacian normalisation) started from this image.
"""

from __future__ import annotations

import numpy as np

#: The amplitude of the start image's noise around mid-grey.
START_NOISE = 0.1


def start_image(size: int | tuple[int, int], seed: int) -> np.ndarray:
    """A float32 HxWx3 mid-grey image (``size``: a side, or (H, W)) with seeded uniform noise of ``START_NOISE``."""
    height, width = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-START_NOISE, START_NOISE, size=(height, width, 3))
    return (0.5 + noise).astype(np.float32)
