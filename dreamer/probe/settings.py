"""The probe's settings, declared once: the API's ``ProbeSettings`` and the command's options come from here.

Each field carries its help text, command-line flag and allowed range in
its metadata. This module imports nothing heavy, so ``dream --help`` stays
fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from dreamer.errors import DreamerError

#: The transform forms, for help texts and error messages.
TRANSFORM_FORMS = ("hflip", "vflip", "rot90", "shift:N", "scale:F", "gray")
#: The default number of image-like layers probed.
DEFAULT_MAX_LAYERS = 18


def _setting(default: Any, help: str, flag: str, minimum: float | None = None, maximum: float | None = None):
    return field(default=default, metadata={"help": help, "flag": flag, "minimum": minimum, "maximum": maximum})


@dataclass(frozen=True)
class ProbeSettings:
    """Every setting of a probe; ``settings_help()`` gives each field's help, flag and range."""

    transform: str = _setting(
        "hflip", "The transform T: hflip, vflip, rot90, shift:N (N px right), scale:F (zoom about the centre) "
                 "or gray.", "--transform")
    size: int = _setting(224, "Images are scaled and centre-cropped to squares of this side.", "--size", 32, 4096)
    batch_size: int = _setting(16, "Images per model call (each goes in with its partner).", "--batch-size", 1, 4096)
    max_layers: int = _setting(DEFAULT_MAX_LAYERS, "How many image-like layers to probe when --layer is not given "
                                                   "(spread over the network, block outputs preferred).",
                               "--max-layers", 1, 10_000)
    threshold: float = _setting(0.9, "Decodability (accuracy) that still counts as decodable.", "--threshold",
                                0.5, 1.0)
    folds: int = _setting(5, "Cross-validation folds of the linear classifier.", "--folds", 2, 100)
    seed: int = _setting(0, "Seed of the cross-validation folds.", "--seed", 0, None)

    def __post_init__(self):
        for item in fields(self):
            low, high = item.metadata["minimum"], item.metadata["maximum"]
            value = getattr(self, item.name)
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                raise DreamerError(f"{item.name.replace('_', ' ')} must be {bounds}, not {value}")


def settings_help() -> dict[str, dict]:
    """Each field's name -> its metadata (help, flag, minimum, maximum) and default, in declaration order."""
    return {item.name: {**item.metadata, "default": item.default, "kind": type(item.default)}
            for item in fields(ProbeSettings)}
