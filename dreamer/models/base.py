"""The model adapter: what the engine needs to know about a network.

An adapter wraps a Keras model whose input is the *model's own* range and
exposes:

- ``preprocess``: float32 images in [0, 1] (NHWC, RGB) -> the model's input;
- ``layers``: every dreamable layer, in network order, with its output shape;
- ``feature_model``: a Keras model from the preprocessed input to a dict of
  layer name -> activation, for the layers an objective needs.

Nothing outside ``dreamer.models`` knows how a particular network wants its
pixels scaled.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Sequence

from dreamer.errors import ModelError


@dataclass(frozen=True)
class LayerInfo:
    """One dreamable layer: its name, its output shape (H, W, C; None where free), and the graph op it reads
    (for GraphDef models: ``op`` is the TensorFlow op when it differs from ``name``)."""

    name: str
    shape: tuple
    op: str = ""

    @property
    def channels(self) -> int:
        return int(self.shape[-1])


@dataclass
class ModelAdapter:
    """A network ready to dream with: the contract every model family fulfils.

    An adapter is built complete by its loader (``dreamer.models.registry``)
    and not changed afterwards; ``dataclasses.replace`` makes a variant
    (another label list, say). Subclasses override ``layer_infos``,
    ``feature_model`` and ``classifier_model``; every attribute below exists
    on every adapter.

    Attributes:
        name: the registered name (or a path) shown to the user.
        model: a Keras model taking the preprocessed NHWC input.
        preprocess: maps a [0, 1] float32 NHWC tensor to the model's input.
        default_layer: the layer used when the user names none.
        min_size: the smallest image side the network accepts.
        labels: class names for ``classify``, or None.
        input_channels: the channels the network takes (1 for a grayscale
            model; ``preprocess`` then turns RGB into one channel).
        classify_size: the square side ``classify`` feeds the classifier.
        layer_note: a line ``dream layers`` prints under the table ("" for none).
    """

    name: str
    model: object
    preprocess: Callable
    default_layer: str
    min_size: int = 32
    labels: Sequence[str] | None = None
    input_channels: int = 3
    classify_size: int = 224
    layer_note: str = ""
    _layers: list = field(default=None, repr=False)

    def layer_infos(self) -> list[LayerInfo]:
        """Every dreamable layer (4-D output), in network order."""
        if self._layers is None:
            infos = []
            for layer in self.model.layers:
                if type(layer).__name__ == "InputLayer":
                    continue
                shape = _output_shape(layer)
                if shape is not None and len(shape) == 4:
                    infos.append(LayerInfo(layer.name, tuple(shape[1:])))
            self._layers = infos
        return self._layers

    def layer_names(self) -> list[str]:
        return [info.name for info in self.layer_infos()]

    def dense_layer_infos(self) -> list[LayerInfo]:
        """Every Dense layer with a 2-D output (N x units), in network order: not dreamable, but probed."""
        infos = []
        for layer in getattr(self.model, "layers", None) or []:
            if type(layer).__name__ == "Dense":
                shape = _output_shape(layer)
                if shape is not None and len(shape) == 2 and shape[-1] is not None:
                    infos.append(LayerInfo(layer.name, (int(shape[-1]),)))
        return infos

    def is_dense_layer(self, name: str) -> bool:
        """Whether ``name`` is one of ``dense_layer_infos`` (a feature model may read it)."""
        return any(info.name == name for info in self.dense_layer_infos())

    def layer_info(self, name: str) -> LayerInfo:
        """The named layer, or a ModelError naming the closest valid layers."""
        for info in self.layer_infos():
            if info.name == name:
                return info
        raise ModelError(unknown_layer_message(name, self.layer_names(), self.name))

    def class_layer(self) -> LayerInfo:
        """The model's final output when it is 2-D (N x classes): the class scores.

        Raises:
            ModelError: the model has no such output (several outputs, or
                an image-like one).
        """
        outputs = list(self.model.outputs)
        shape = tuple(outputs[0].shape) if len(outputs) == 1 else ()
        if len(shape) != 2 or shape[-1] is None:
            raise ModelError(f"model {self.name!r} has no class output (its final output is not N x classes)")
        for layer in reversed(self.model.layers):
            if _output(layer) is outputs[0]:
                return LayerInfo(layer.name, (int(shape[-1]),))
        raise ModelError(f"model {self.name!r}: cannot find the layer of its class output")

    def layer_shapes(self, height: int, width: int) -> dict[str, tuple]:
        """Each dreamable layer's (H, W, C) for one input of ``height`` x ``width`` (symbolic: nothing runs)."""
        import keras

        names = self.layer_names()
        channels = self.model.inputs[0].shape[-1] or self.input_channels
        specs = self.feature_model(names).compute_output_spec(keras.KerasTensor((1, height, width, channels)))
        return {name: tuple(specs[name].shape[1:]) for name in names}

    def feature_model(self, layer_names: Sequence[str]):
        """A Keras model: preprocessed input -> {layer name: activation}.

        The names are dreamable layers, or the class output's layer.
        """
        import keras

        for name in layer_names:
            if name not in self.layer_names() and not self._is_class_layer(name) and not self.is_dense_layer(name):
                self.layer_info(name)
        outputs = {name: self.model.get_layer(name).output for name in layer_names}
        inputs = self.model.inputs
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)

    def classifier_model(self):
        """A callable: preprocessed ``classify_size``-square NHWC input -> class scores."""
        return self.model

    def _is_class_layer(self, name: str) -> bool:
        try:
            return self.class_layer().name == name
        except ModelError:
            return False


def unknown_layer_message(name: str, valid: Sequence[str], model_name: str) -> str:
    """One line that names the closest valid layers."""
    close = difflib.get_close_matches(name, valid, n=5, cutoff=0.5)
    if not close:
        close = [v for v in valid if name.lower() in v.lower()][:5]
    hint = f"; closest: {', '.join(close)}" if close else ""
    return (
        f"unknown layer {name!r} in model {model_name!r}{hint} "
        f"(see 'dream layers --model {model_name}')"
    )


def _output(layer):
    try:
        return layer.output
    except (AttributeError, ValueError):
        return None


def _output_shape(layer):
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None
