"""The settings of one dream, declared once.

``DreamConfig`` is a frozen dataclass; each field carries a ``Setting`` in its
metadata (the help text, the command-line flag, the allowed range). From this
one declaration come the ``dream`` command's options (``dreamer.cli.options``),
the keyword arguments of ``dreamer.dream()`` and the settings recorded in a
PNG result. A new setting is one new field here.

This module imports nothing heavy, so ``dream --help`` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from dreamer.errors import DreamerError


@dataclass(frozen=True)
class Setting:
    """How a DreamConfig field is shown and checked.

    Attributes:
        help: one sentence for ``--help`` and the API docstring.
        flags: the command-line flags, long first (``("--iterations", "-i")``).
        kind: ``int`` or ``float``.
        minimum, maximum: the allowed range (None: open).
        above: the minimum itself is not allowed (``value > minimum``).
        below: the maximum itself is not allowed (``value < maximum``).
        error: the message when the value is out of range.
        unset_help: the ``[default: ...]`` text when the default is None or
            chosen at run time (the seed).
    """

    help: str
    flags: tuple[str, ...]
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    below: bool = False
    error: str = ""
    unset_help: str = ""

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is in range (None is allowed where the default is None)."""
        if value is None:
            return True
        if self.kind is float and not math.isfinite(value):
            return False
        if self.minimum is not None and (value < self.minimum or (self.above and value == self.minimum)):
            return False
        return self.maximum is None or value < self.maximum or (value == self.maximum and not self.below)


def _setting(default: Any, **meta: Any) -> Any:
    return field(default=default, metadata={"setting": Setting(**meta)})


@dataclass(frozen=True)
class DreamConfig:
    """Every setting of one dream. Pixel quantities are on the 0-255 scale.

    Each field's meaning is its ``Setting.help`` (``settings()`` lists them):
    iterations, octaves, octave_scale, step_size, jitter, tile_size (None:
    one piece up to about a megapixel, 512 px tiles above), seed (the same
    seed, input and settings give the same pixels), laplacian_levels (0 or
    1: off), tv (0: off), rotate and scale_jitter (random transforms before
    each step's gradient; 0: off).
    """

    iterations: int = _setting(
        10, help="Gradient-ascent steps per octave.", flags=("--iterations", "-i"), kind=int, minimum=1,
        error="iterations must be at least 1")
    octaves: int = _setting(
        4, help="Number of scales, the full size included.", flags=("--octaves",), kind=int, minimum=1,
        error="octaves must be at least 1")
    octave_scale: float = _setting(
        1.4, help="Size ratio between octaves (above 1).", flags=("--octave-scale",), kind=float, minimum=1.0,
        above=True, error="octave scale must be a number above 1")
    step_size: float = _setting(
        1.5, help="Mean change of a pixel per step, on the 0-255 scale.", flags=("--step-size", "-s"), kind=float,
        minimum=0.0, above=True, error="step size must be a positive number")
    jitter: int = _setting(
        32, help="Largest random shift in pixels before each step.", flags=("--jitter",), kind=int, minimum=0,
        error="jitter must be 0 or more")
    tile_size: int | None = _setting(
        None, help="Compute gradients in tiles of this many pixels.", flags=("--tile-size",), kind=int, minimum=16,
        error="tile size must be at least 16",
        unset_help="auto: one piece up to 1 megapixel, 512 above")
    seed: int = _setting(
        0, help="Random seed; the same seed and settings give the same pixels.", flags=("--seed",), kind=int,
        minimum=0, error="seed must be 0 or more", unset_help="random, recorded")
    laplacian_levels: int = _setting(
        0, help="Smooth the gradient: normalise each level of a Laplacian pyramid of this many levels "
                "(4 is the TensorFlow notebook's); 0 is off. Softer, larger forms, less pixel grain.",
        flags=("--laplacian",), kind=int, minimum=0, maximum=12, error="laplacian levels must be between 0 and 12")
    tv: float = _setting(
        0.0, help="Total-variation penalty on what the dream adds (0.1-0.5 smooths grain); 0 is off.",
        flags=("--tv",), kind=float, minimum=0.0, error="tv strength must be 0 or more")
    rotate: float = _setting(
        0.0, help="Largest random rotation in degrees before each step's gradient (robustness, as in feature "
                  "visualisation); 0 is off.",
        flags=("--rotate",), kind=float, minimum=0.0, maximum=180.0, error="rotation must be between 0 and 180 degrees")
    scale_jitter: float = _setting(
        0.0, help="Largest random relative scale change before each step's gradient (0.05: between 1/1.05 and "
                  "1.05); 0 is off.",
        flags=("--scale-jitter",), kind=float, minimum=0.0, maximum=1.0, below=True,
        error="scale jitter must be in [0, 1)")

    def __post_init__(self):
        for name, setting in settings().items():
            value = getattr(self, name)
            if not setting.allows(value):
                raise DreamerError(setting.error)


def settings() -> dict[str, Setting]:
    """Every DreamConfig field's name and Setting, in declaration order."""
    return {f.name: f.metadata["setting"] for f in fields(DreamConfig)}


def defaults() -> dict[str, Any]:
    """Every DreamConfig field's default value."""
    return {f.name: f.default for f in fields(DreamConfig)}


#: The atlas' rendering settings (``dream atlas``): each tile is ``ATLAS_TILE_SIZE`` px.
ATLAS_CONFIG = DreamConfig(
    iterations=24, octaves=3, octave_scale=1.5, step_size=2.0, jitter=8,
    laplacian_levels=4, rotate=5.0, scale_jitter=0.05,
)
ATLAS_TILE_SIZE = 128
