"""Named presets: a few settings with a one-line description, for ``--preset NAME``.

Each was chosen by rendering the sample photos with candidates on the default
model (EfficientNet-Lite0) and looking at the results; docs/guide/presets.md shows each
on one sample. A preset's keys are ``dream()``'s keyword arguments (which
are also the ``dream`` command's option names and TOML keys).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping

from dreamer.config import settings
from dreamer.errors import DreamerError


@dataclass(frozen=True)
class Preset:
    """A name, what it looks like, and its settings."""

    name: str
    description: str
    settings: Mapping[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {preset.name: preset for preset in (
    Preset("subtle", "fine textures woven into the photo; it stays recognisable",
           {"layers": ["block3b_add"], "iterations": 4, "octaves": 3, "step_size": 0.8}),
    Preset("classic", "swirls and eyes everywhere: Google's 2015 look, on the default model",
           {"layers": ["block4c_add + block5c_add"], "iterations": 10, "octaves": 4, "octave_scale": 1.4,
            "step_size": 1.5}),
    Preset("deep", "strong animal faces and eyes take over the picture",
           {"layers": ["block5c_add"], "iterations": 30, "octaves": 4, "octave_scale": 1.5, "step_size": 2.0,
            "laplacian_levels": 4}),
    Preset("print", "for large prints: big, smooth forms that scale with the image, no pixel grain",
           {"layers": ["block4c_add + block5c_add"], "iterations": 10, "octaves": 7, "octave_scale": 1.5,
            "step_size": 1.5, "laplacian_levels": 4, "tv": 0.2}),
)}


def preset_settings(name: str) -> dict[str, Any]:
    """The settings of the preset ``name``, as ``dream()`` keyword arguments.

    Raises:
        DreamerError: no such preset (the message lists the closest names).
    """
    preset = PRESETS.get(str(name).strip().lower())
    if preset is None:
        close = difflib.get_close_matches(str(name), list(PRESETS), n=2) or list(PRESETS)
        raise DreamerError(f"no preset named {name!r}; try {', '.join(close)} ('dream presets' lists them)")
    return {key: list(value) if isinstance(value, list) else value for key, value in preset.settings.items()}


def presets_text() -> str:
    """``dream presets``: each preset, its description and its settings."""
    blocks = []
    for preset in PRESETS.values():
        values = " ".join(f"{option_flag(key)} {_shown(value)}" for key, value in preset.settings.items())
        blocks.append(f"{preset.name:<8} {preset.description}\n         {values}")
    return "\n".join(blocks) + "\n\nUse one with 'dream --preset NAME INPUT...'; options you give override it."


def option_flag(name: str) -> str:
    """The command-line flag of a setting (``step_size`` -> ``--step-size``, ``layers`` -> ``--layer``)."""
    known = settings()
    if name in known:
        return next(flag for flag in known[name].flags if flag.startswith("--"))
    return {"layers": "--layer", "classes": "--class"}.get(name, "--" + name.replace("_", "-"))


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(repr(str(v)) if " " in str(v) else str(v) for v in value)
    return str(value)
