"""The transforms a probe asks about, on images and on feature maps alike.

A transform is parsed from its text form (``hflip``, ``vflip``, ``rot90``,
``shift:N``, ``scale:F``, ``gray``). ``Transform.images`` applies it to a
batch of square NHWC images in [0, 1]; ``Transform.maps`` applies the same
geometric change to a batch of NHWC feature maps of any channel count (the
pixel amounts scaled to the map's size), which is what equivariance compares
with. ``gray`` moves no pixel, so it has no action on maps (``maps`` returns
None).

All functions are numpy-only and pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamer.errors import DreamerError
from dreamer.probe.settings import TRANSFORM_FORMS as FORMS

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Transform:
    """A transform: its kind (one of ``FORMS`` without the amount) and its amount (pixels or factor)."""

    kind: str
    amount: float = 0.0

    @property
    def name(self) -> str:
        """The text form, as the user types it."""
        if self.kind == "shift":
            return f"shift:{int(self.amount)}"
        if self.kind == "scale":
            return f"scale:{self.amount:g}"
        return self.kind

    @property
    def spatial(self) -> bool:
        """Whether it moves pixels (so equivariance means something)."""
        return self.kind != "gray"

    def images(self, batch: np.ndarray) -> np.ndarray:
        """The transform of a batch of NHWC images (square for rot90)."""
        if self.kind == "gray":
            luma = batch @ LUMA
            return np.repeat(luma[..., None], 3, axis=-1).astype(batch.dtype)
        return self._move(batch, batch.shape[2])

    def maps(self, maps: np.ndarray, image_size: int) -> np.ndarray | None:
        """The same geometric change on NHWC feature maps of a ``image_size``-square input; None for ``gray``."""
        if not self.spatial:
            return None
        return self._move(maps, image_size)

    def _move(self, batch: np.ndarray, image_size: int) -> np.ndarray:
        if self.kind == "hflip":
            return batch[:, :, ::-1]
        if self.kind == "vflip":
            return batch[:, ::-1]
        if self.kind == "rot90":
            return np.rot90(batch, k=1, axes=(1, 2))
        if self.kind == "shift":
            return shift_right(batch, round(self.amount * batch.shape[2] / image_size))
        return zoom(batch, self.amount)


def parse_transform(text: str) -> Transform:
    """``hflip``, ``vflip``, ``rot90``, ``shift:N`` (N pixels right; negative: left), ``scale:F`` or ``gray``.

    Raises:
        DreamerError: an unknown name or a bad amount (one line, listing the forms).
    """
    name, _, amount = text.strip().lower().partition(":")
    if name in ("hflip", "vflip", "rot90", "gray") and not amount:
        return Transform(name)
    if name == "shift" and amount:
        try:
            pixels = int(amount)
        except ValueError:
            pixels = 0
        if pixels:
            return Transform("shift", float(pixels))
        raise DreamerError(f"bad transform {text!r}: shift needs a whole number of pixels other than 0 (shift:8)")
    if name == "scale" and amount:
        try:
            factor = float(amount)
        except ValueError:
            factor = float("nan")
        if np.isfinite(factor) and factor > 0 and factor != 1:
            return Transform("scale", factor)
        raise DreamerError(f"bad transform {text!r}: scale needs a factor above 0 and other than 1 (scale:1.2)")
    raise DreamerError(f"unknown transform {text!r}; choose one of {', '.join(FORMS)}")


def shift_right(batch: np.ndarray, pixels: int) -> np.ndarray:
    """NHWC arrays moved ``pixels`` to the right (negative: left); the edge column fills the gap."""
    width = batch.shape[2]
    if pixels == 0:
        return batch
    pixels = max(-width, min(width, pixels))
    source = np.clip(np.arange(width) - pixels, 0, width - 1)
    return batch[:, :, source]


def zoom(batch: np.ndarray, factor: float) -> np.ndarray:
    """NHWC arrays magnified ``factor`` times about their centre (bilinear; edges repeated when shrinking)."""
    height, width = batch.shape[1:3]
    rows = _source_coordinates(height, factor)
    cols = _source_coordinates(width, factor)
    r0, r1, rw = _neighbours(rows, height)
    c0, c1, cw = _neighbours(cols, width)
    top = batch[:, r0][:, :, c0] * (1 - cw)[None, None, :, None] + batch[:, r0][:, :, c1] * cw[None, None, :, None]
    bottom = batch[:, r1][:, :, c0] * (1 - cw)[None, None, :, None] + batch[:, r1][:, :, c1] * cw[None, None, :, None]
    out = top * (1 - rw)[None, :, None, None] + bottom * rw[None, :, None, None]
    return out.astype(batch.dtype)


def _source_coordinates(size: int, factor: float) -> np.ndarray:
    """Where each output pixel centre samples the input, for a magnification about the centre."""
    centre = size / 2
    return (np.arange(size) + 0.5 - centre) / factor + centre - 0.5


def _neighbours(coords: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coords = np.clip(coords, 0, size - 1)
    low = np.floor(coords).astype(int)
    high = np.minimum(low + 1, size - 1)
    return low, high, (coords - low).astype(np.float32)
