"""The settings of one dream, declared once.

``DreamConfig`` is a frozen dataclass; each field carries a ``Setting`` in its
metadata (the help text, the command-line flag, the allowed range). From this
one declaration come the ``dream`` command's options (``dreamer.cli.options``),
the keyword arguments of ``dreamer.dream()`` and the settings recorded in a
PNG result. A new setting is one new field here.

This module imports nothing heavy, so ``dream --help`` stays fast.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from dreamer.settings import MAX_SEED, Setting, check_fields, declared, declared_defaults, setting


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

    iterations: int = setting(
        10, help="Gradient-ascent steps per octave.", flags=("--iterations", "-i"), kind=int, minimum=1,
        maximum=10000)
    octaves: int = setting(
        4, help="Number of scales, the full size included.", flags=("--octaves",), kind=int, minimum=1, maximum=20)
    octave_scale: float = setting(
        1.4, help="Size ratio between octaves (above 1).", flags=("--octave-scale",), kind=float, minimum=1.0,
        above=True, maximum=10.0)
    step_size: float = setting(
        1.5, help="Mean change of a pixel per step, on the 0-255 scale.", flags=("--step-size", "-s"), kind=float,
        minimum=0.0, above=True, maximum=255.0)
    jitter: int = setting(
        32, help="Largest random shift in pixels before each step.", flags=("--jitter",), kind=int, minimum=0,
        maximum=4096)
    tile_size: int | None = setting(
        None, help="Compute gradients in tiles of at most this many pixels a side.", flags=("--tile-size",),
        kind=int, minimum=16, maximum=16384,
        unset_help="auto: one piece up to 1 megapixel, 512 above")
    seed: int = setting(
        0, help="Random seed; the same seed and settings give the same pixels.", flags=("--seed",), kind=int,
        minimum=0, maximum=MAX_SEED, unset_help="random, recorded")
    laplacian_levels: int = setting(
        0, help="Smooth the gradient: normalise each level of a Laplacian pyramid of this many levels "
                "(4 is the TensorFlow notebook's); 0 is off. Softer, larger forms, less pixel grain.",
        flags=("--laplacian",), kind=int, minimum=0, maximum=12)
    tv: float = setting(
        0.0, help="Total-variation penalty on what the dream adds (0.1-0.5 smooths grain); 0 is off.",
        flags=("--tv",), kind=float, minimum=0.0, maximum=1000.0)
    rotate: float = setting(
        0.0, help="Largest random rotation in degrees before each step's gradient (robustness, as in feature "
                  "visualisation); 0 is off.",
        flags=("--rotate",), kind=float, minimum=0.0, maximum=180.0)
    scale_jitter: float = setting(
        0.0, help="Largest random relative scale change before each step's gradient (0.05: between 1/1.05 and "
                  "1.05); 0 is off.",
        flags=("--scale-jitter",), kind=float, minimum=0.0, maximum=1.0, below=True)
    keep_colors: bool | None = setting(
        None, help="Dream on the brightness only and keep the input's colours (as style transfer's "
                   "'preserve colours' does).",
        flags=("--keep-colors",), kind=bool, unset_help="on for a grayscale input, else off")

    def __post_init__(self):
        check_fields(self)


#: The settings that choose the model and the objective, with the types a settings file may give them:
#: the ``dream()`` keywords beside the DreamConfig fields, a recipe's model part (``dreamer.batch.settings``),
#: what a ``Dreamer`` is built from. Declared once here; the others derive from it.
MODEL_SETTINGS: dict[str, tuple[type, ...]] = {
    "model": (str,), "layers": (list, str), "classes": (list, str, int), "loss": (str,), "guide": (str,),
    "mask": (str,), "weights": (str,), "preprocess": (str,), "unsafe_load": (bool,), "precision": (str,),
    "input_name": (str,),
}


def settings() -> dict[str, Setting]:
    """Every DreamConfig field's name and Setting, in declaration order."""
    return declared(DreamConfig)


def defaults() -> dict[str, Any]:
    """Every DreamConfig field's default value."""
    return declared_defaults(DreamConfig)


def signature_with_settings(function) -> inspect.Signature:
    """``function``'s signature with every DreamConfig field (but the seed) as a keyword, for ``help()``."""
    signature = inspect.signature(function)
    parameters = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in defaults().items() if name != "seed"
    ]
    return signature.replace(parameters=parameters)
