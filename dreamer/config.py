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
        kind: ``int``, ``float`` or ``bool`` (a switch: ``--x`` and ``--no-x``).
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
    each step's gradient; 0: off), keep_colors (dream on the brightness only;
    None: decided per input, on for a grayscale one).
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
    keep_colors: bool | None = _setting(
        None, help="Dream on the brightness only and keep the input's colours (as style transfer's "
                   "'preserve colours' does).",
        flags=("--keep-colors",), kind=bool, unset_help="on for a grayscale input, else off")

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


@dataclass(frozen=True)
class Moves:
    """The random transforms a rendering from noise must survive (``dreamer.param.transforms``).

    Attributes:
        pad: grey pixels added on every side before the other moves.
        jitter: the largest shift in pixels (each axis, either way).
        scale: the largest relative scale change (0.1: between 1/1.1 and 1.1).
        rotate: the largest rotation in degrees (either way).
    """

    pad: int = 12
    jitter: int = 8
    scale: float = 0.1
    rotate: float = 10.0

    def __post_init__(self):
        checks = [
            (self.pad >= 0, "pad must be 0 or more"),
            (self.jitter >= 0, "jitter must be 0 or more"),
            (math.isfinite(self.scale) and 0 <= self.scale < 1, "scale jitter must be in [0, 1)"),
            (math.isfinite(self.rotate) and 0 <= self.rotate <= 180, "rotation must be between 0 and 180 degrees"),
        ]
        for ok, message in checks:
            if not ok:
                raise DreamerError(message)


@dataclass(frozen=True)
class FourierConfig:
    """The settings of a rendering in the Fourier parameterisation (``dreamer.param``).

    Attributes:
        steps: Adam steps.
        learning_rate: Adam's step size on the spectrum.
        decay_power: how steeply the coefficients' scale falls with frequency
            (1: as 1/f, the published choice; 0: a flat spectrum, like pixels).
        diversity: the weight of the diversity term between variants (used
            only when there are several).
        moves: the random transforms' ranges.
        seed: the seed of the starts and the moves.
        batch: the most images optimised together (whole groups of variants).
    """

    steps: int = 64
    learning_rate: float = 0.05
    decay_power: float = 1.0
    diversity: float = 8.0
    moves: Moves = field(default_factory=Moves)
    seed: int = 0
    batch: int = 16

    def __post_init__(self):
        checks = [
            (self.steps >= 1, "steps must be at least 1"),
            (math.isfinite(self.learning_rate) and self.learning_rate > 0, "learning rate must be positive"),
            (math.isfinite(self.decay_power) and self.decay_power >= 0, "decay power must be 0 or more"),
            (math.isfinite(self.diversity) and self.diversity >= 0, "diversity must be 0 or more"),
            (self.batch >= 1, "batch must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise DreamerError(message)


#: The parameterisations a rendering from noise can use: Fourier coefficients, or the pixels themselves.
PARAMETERISATIONS = ("fft", "pixels")
#: The atlas' default parameterisation (``benchmarks/atlas_param.py`` measured it against pixels).
ATLAS_PARAM = "fft"
#: The atlas' Fourier settings: as many Adam steps as took the pixel settings' time in the benchmark, and a
#: spectrum falling as 1/f^1.25, which halved the grain of 1/f at the same activation and margin.
FOURIER_ATLAS_CONFIG = FourierConfig(steps=71, decay_power=1.25)
