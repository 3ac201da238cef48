"""The registered models' layer names, shipped with the package as data.

Finding which model a layer belongs to, or the closest names to a typo,
should not cost building every network (seconds, and TensorFlow's import).
``dreamer/data/layers.json`` holds each registered model's dreamable layers
with their channel counts, written by ``scripts/generate_layer_names.py``
from the architectures themselves; a test regenerates it and compares.

Contract:

- ``layer_names(model)``: the names in network order, or None for a model
  the file does not list (a caller then builds the architecture);
- ``min_size(model)``: the smallest image side the model accepts;
- ``accepts_any_op(model)``: True for a graph model (inception5h), where any
  op name of the graph can be dreamed on once the graph is loaded, so a name
  missing from the list is not yet an error;
- ``check_layers(model, names)``: raises the usual "unknown layer ... closest
  ..." ModelError for a name the model surely lacks; ``check_channels(model,
  layer, channels)`` the usual "channel N is out of range" one. For a Keras application
  the names are Keras' own, so they are trusted only under the Keras version
  that wrote the file (read from the installed package's metadata, without
  importing it); under another, the loaded model checks the names instead;
- ``dreamer.models.catalog_build.generate(models)``: the data, built from the architectures (imports
  TensorFlow; for the script and the test).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Iterable, Sequence

from dreamer.errors import ModelError
from dreamer.models.base import unknown_layer_message

#: Bumped when the file's layout changes.
FORMAT = 1
DATA_FILE = "layers.json"


@functools.lru_cache(maxsize=1)
def _data() -> dict:
    try:
        text = resources.files("dreamer").joinpath("data").joinpath(DATA_FILE).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError):
        return {}
    return data.get("models", {}) if data.get("format") == FORMAT else {}


def layer_names(model: str) -> list[str] | None:
    """The registered ``model``'s dreamable layers in network order, or None if not listed."""
    entry = _data().get(model)
    return None if entry is None else [name for name, _ in entry["layers"]]


def layer_channels(model: str) -> dict[str, int]:
    """Layer name -> channel count, for a listed model (empty if not listed)."""
    entry = _data().get(model)
    return {} if entry is None else {name: channels for name, channels in entry["layers"]}


def accepts_any_op(model: str) -> bool:
    """Whether the model takes any op name of its graph as a layer (graph models)."""
    return bool(_data().get(model, {}).get("any_op", False))


def min_size(model: str) -> int | None:
    """The smallest image side the listed model accepts, or None if not listed."""
    entry = _data().get(model)
    return None if entry is None else int(entry["min_size"])


def listed_models() -> list[str]:
    return list(_data())


def check_layers(model: str, names: Iterable[str]) -> None:
    """Refuse a layer name that the listed, closed ``model`` does not have (see the module docstring).

    Raises:
        ModelError: one line naming the closest valid layers.
    """
    known = layer_names(model)
    if known is None or accepts_any_op(model) or not _names_current(model):
        return
    present = set(known)
    for name in names:
        if name not in present:
            raise ModelError(unknown_layer_message(name, known, model))


def check_channels(model: str, layer: str, channels: Iterable[int]) -> None:
    """Refuse a channel number that ``layer`` of the listed, closed ``model`` does not have.

    Raises:
        ModelError: one line with the layer's channel count (the same words as the loaded model's check).
    """
    if layer_names(model) is None or accepts_any_op(model) or not _names_current(model):
        return
    count = layer_channels(model).get(layer)
    bad = [c for c in channels if count is not None and c >= count]
    if bad:
        raise ModelError(f"channel {bad[0]} is out of range: {layer} has {count} channels (0-{count - 1})")


def _names_current(model: str) -> bool:
    """Whether the listed names hold for the installed Keras (always, for names dreamer gives itself)."""
    if not _data()[model].get("keras_names", False):
        return True
    from importlib import metadata

    try:
        return metadata.version("keras") == _keras_version()
    except metadata.PackageNotFoundError:
        return False


@functools.lru_cache(maxsize=1)
def _keras_version() -> str:
    try:
        text = resources.files("dreamer").joinpath("data").joinpath(DATA_FILE).read_text(encoding="utf-8")
        return json.loads(text).get("keras", "")
    except (OSError, ValueError):
        return ""


def models_with(names: Sequence[str], candidates: Iterable[str]) -> list[str]:
    """The listed ``candidates`` whose layer lists hold every one of ``names``."""
    wanted = set(names)
    return [model for model in candidates if wanted <= set(layer_names(model) or ())]


def to_json(data: dict) -> str:
    """The file's text: one model a block, one layer a line, so diffs stay readable."""
    lines = ["{", f'  "format": {data["format"]},', f'  "keras": {json.dumps(data["keras"])},', '  "models": {']
    models = list(data["models"].items())
    for index, (name, entry) in enumerate(models):
        layers = ",\n".join(f"        {json.dumps(row)}" for row in entry["layers"])
        closing = "}" if index == len(models) - 1 else "},"
        lines += [f"    {json.dumps(name)}: {{", f'      "any_op": {json.dumps(entry["any_op"])},',
                  f'      "keras_names": {json.dumps(entry["keras_names"])},',
                  f'      "min_size": {json.dumps(entry["min_size"])},', '      "layers": [', layers, "      ]",
                  f"    {closing}"]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"
