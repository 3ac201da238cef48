"""Which layers a probe looks at, and their activations, a batch at a time.

``choose_layers`` picks the layers in network order: the ones named, or by
default the image-like layers ``dream layers`` lists, thinned to a readable
number (block outputs preferred), plus the model's dense layers (2-D
outputs: a user's own hidden layers) and its class output.
``feature_function`` runs the adapter's feature model once per batch for
all chosen layers and returns numpy arrays.
``pooled`` and ``grid`` reduce a 4-D map to what a linear head would see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dreamer.errors import ModelError
from dreamer.probe.settings import DEFAULT_MAX_LAYERS

#: Names that end a block in common networks; thinning prefers them.
BLOCK_END = re.compile(r"(add|_out|concat|pool|activation|relu|mixed\d+\w?)$", re.IGNORECASE)


@dataclass(frozen=True)
class ProbeLayer:
    """A probed layer: name, position among the model's layers, relative depth, output shape, kind.

    ``kind`` is ``"conv"`` for a 4-D (image-like) output and ``"dense"`` for a 2-D one.
    """

    name: str
    index: int
    depth: float
    shape: tuple
    kind: str


def choose_layers(adapter, names: Sequence[str] | None = None,
                  max_layers: int = DEFAULT_MAX_LAYERS) -> list[ProbeLayer]:
    """The layers to probe, in network order.

    Args:
        adapter: the model's ModelAdapter.
        names: layer names to probe (any order; shown in network order), or
            None for the default choice.
        max_layers: how many image-like layers the default choice keeps.

    Raises:
        ModelError: a name that is not a layer of the model (naming the closest).
    """
    every = _every_layer(adapter)
    by_name = {layer.name: layer for layer in every}
    if names:
        for name in names:
            if name not in by_name:
                adapter.layer_info(name)  # raises with the closest names
        chosen = {name for name in names}
        return [layer for layer in every if layer.name in chosen]
    convs = [layer for layer in every if layer.kind == "conv"]
    dense = [layer for layer in every if layer.kind == "dense"]
    return thin(convs, max_layers) + dense


def check_dense_layers(adapter, layers: Sequence[ProbeLayer], size: int) -> None:
    """Raise if a probed class output can't be computed on ``size``-square images.

    Raises:
        ModelError: a class output that needs the classifier's own input
            size (a head such as Flatten then Dense).
    """
    from dreamer.models.capabilities import class_output_takes

    for layer in layers:
        if layer.kind == "dense" and not class_output_takes(adapter, layer.name, size):
            raise ModelError(
                f"the {_dense_kind(adapter, layer.name)} {layer.name!r} of model {adapter.name!r} needs its own "
                f"input size (a fixed-size "
                f"head such as Flatten then Dense), not {size} px: probe at that size (--size), or only "
                f"image-like layers (--layer)")


def _dense_kind(adapter, name: str) -> str:
    try:
        return "class output" if adapter.class_layer().name == name else "dense layer"
    except (ModelError, AttributeError):
        return "dense layer"


def thin(layers: list[ProbeLayer], count: int) -> list[ProbeLayer]:
    """About ``count`` layers spread evenly over ``layers``, block outputs preferred, the last one kept."""
    if len(layers) <= count:
        return list(layers)
    edges = np.linspace(0, len(layers), count + 1).round().astype(int)
    picked = []
    for start, stop in zip(edges[:-1], edges[1:]):
        window = layers[start:stop]
        ends = [layer for layer in window if BLOCK_END.search(layer.name)]
        picked.append((ends or window)[-1])
    if picked[-1] is not layers[-1]:
        picked[-1] = layers[-1]
    return picked


def _every_layer(adapter) -> list[ProbeLayer]:
    """The adapter's image-like layers, then its dense layers and class output, with positions and depths."""
    infos = [(info.name, tuple(info.shape), "conv") for info in adapter.layer_infos()]
    dense = [(info.name, tuple(info.shape), "dense") for info in adapter.dense_layer_infos()]
    try:
        head = adapter.class_layer()
        if head.name not in {name for name, _, _ in infos + dense}:
            dense.append((head.name, tuple(head.shape), "dense"))
    except (ModelError, AttributeError):  # no class output (a GraphDef model has no Keras outputs)
        pass
    infos += dense
    total = len(infos)
    return [ProbeLayer(name, i, (i + 1) / total, shape, kind) for i, (name, shape, kind) in enumerate(infos)]


def feature_function(adapter, layers: Sequence[ProbeLayer]):
    """A callable: [0, 1] NHWC numpy batch -> {layer name: numpy activations}, one model call per batch.

    The call is compiled once (``tf.function`` with free batch and image sizes).
    """
    import tensorflow as tf

    model = adapter.feature_model([layer.name for layer in layers])
    preprocess = adapter.preprocess

    @tf.function(input_signature=[tf.TensorSpec((None, None, None, 3), tf.float32)])
    def compiled(batch):
        return model(preprocess(batch), training=False)

    def features(batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = compiled(tf.constant(batch, tf.float32))
        return {name: np.asarray(value, dtype=np.float32) for name, value in outputs.items()}

    return features


def pooled(activations: np.ndarray) -> np.ndarray:
    """N x C: the spatial mean of a 4-D map; a 2-D layer as it is."""
    return activations.mean(axis=(1, 2)) if activations.ndim == 4 else activations


def grid(activations: np.ndarray, cells: int = 2) -> np.ndarray:
    """N x (cells*cells*C): the mean of each cell of a coarse grid (cells overlap by a row when the size is odd)."""
    height, width = activations.shape[1:3]
    parts = []
    for i in range(cells):
        rows = slice(i * height // cells, -(-(i + 1) * height // cells))
        for j in range(cells):
            cols = slice(j * width // cells, -(-(j + 1) * width // cells))
            parts.append(activations[:, rows, cols].mean(axis=(1, 2)))
    return np.concatenate(parts, axis=1)
