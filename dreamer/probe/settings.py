"""The probe's settings, declared once: ``ProbeSettings`` for the API, and from it the command's options.

Each field carries a ``dreamer.settings.Setting`` (help, flags, kind, range)
in its metadata, as ``DreamConfig``'s do; ``settings()`` lists them and the
``dream probe`` options are derived from them. This module imports nothing
heavy, so ``dream --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dreamer.settings import MAX_SEED, Setting, check_fields, declared, declared_defaults, setting

#: The transform forms, for help texts and error messages.
TRANSFORM_FORMS = ("hflip", "vflip", "rot90", "shift:N", "scale:F", "gray")
#: The default number of image-like layers probed.
DEFAULT_MAX_LAYERS = 18


@dataclass(frozen=True)
class ProbeSettings:
    """Every setting of a probe; each field's meaning is its ``Setting.help`` (``settings()`` lists them)."""

    transform: str = setting(
        "hflip", help="The transform T: hflip, vflip, rot90, shift:N (N px right), scale:F (zoom about the centre) "
                      "or gray.", flags=("--transform", "-t"), kind=str)
    size: int = setting(
        224, help="Images are scaled and centre-cropped to squares of this side.", flags=("--size",), kind=int,
        minimum=32, maximum=4096)
    batch_size: int = setting(
        16, help="Images per model call (each goes in with its partner).", flags=("--batch-size",), kind=int,
        minimum=1, maximum=4096)
    max_layers: int = setting(
        DEFAULT_MAX_LAYERS, help="How many image-like layers to probe when --layer is not given (spread over the "
                                 "network, block outputs preferred).", flags=("--max-layers",), kind=int,
        minimum=1, maximum=1000)
    threshold: float = setting(
        0.9, help="Decodability (accuracy) that still counts as decodable.", flags=("--threshold",), kind=float,
        minimum=0.5, maximum=1.0)
    folds: int = setting(
        5, help="Cross-validation folds of the linear classifier.", flags=("--folds",), kind=int, minimum=2,
        maximum=100)
    augment: int = setting(
        0, help="Variants of each image (small shifts, scales and brightness changes) added to the classifier's "
                "data; every variant stays in its image's fold.", flags=("--augment",), kind=int, minimum=0,
        maximum=50)
    seed: int = setting(
        0, help="Seed of the cross-validation folds and of the augmentation.", flags=("--seed",), kind=int,
        minimum=0, maximum=MAX_SEED)

    def __post_init__(self):
        check_fields(self)


def settings() -> dict[str, Setting]:
    """Every ProbeSettings field's name and Setting, in declaration order."""
    return declared(ProbeSettings)


def defaults() -> dict[str, Any]:
    """Every ProbeSettings field's default value."""
    return declared_defaults(ProbeSettings)
