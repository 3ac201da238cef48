"""What the loaders of a user's own model share (``user.py`` for Keras files and SavedModels,
``graphfile.py`` for frozen GraphDefs): the default layer, the input scaling, the graph adapter.

Kept apart so that the two loaders import it, not each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dreamer.models.base import LayerInfo, ModelAdapter

#: The side a user's classifier is run at when its input size is not fixed.
DEFAULT_CLASSIFY_SIZE = 224


def graph_adapter(path: Path, graph, channels: int, layers: list[LayerInfo], preprocess: str | None, *,
                  classify_size: int, classifier_output: str, layer_note: str) -> ModelAdapter:
    """The user's frozen graph (a SavedModel's or a GraphDef file's) as an adapter, with the user-model defaults."""
    from dreamer.models.graphdef import GraphAdapter

    return GraphAdapter(
        name=str(path),
        model=graph,
        preprocess=input_preprocess(preprocess, channels),
        default_layer=default_layer(layers),
        min_size=8,
        input_channels=channels,
        classify_size=classify_size,
        static_layers=tuple(layers),
        classifier_output=classifier_output,
        layer_note=layer_note,
    )


def default_layer(layers: Sequence[LayerInfo]) -> str:
    """The layer a user's model is dreamed on by default: two thirds of the way in."""
    return layers[(2 * len(layers)) // 3].name


def input_preprocess(preprocess: str | None, channels: int):
    """The user's scheme, followed by RGB -> gray for a 1-channel model."""
    import tensorflow as tf

    from dreamer.models.preprocessing import scheme

    scaled = scheme(preprocess or "none")
    if channels == 3:
        return scaled

    def gray(x01):
        return tf.reduce_mean(scaled(x01), axis=-1, keepdims=True)

    return gray
