"""The user's own networks: ``.keras``, legacy ``.h5`` and SavedModel folders.

Contract:

- ``.keras`` and ``.h5`` files load with Keras' safe mode on, so a file that
  would run code stored in it (a Lambda layer, say) is refused with
  UnsafeFileError unless the caller passes ``unsafe=True`` (``--unsafe-load``).
- A SavedModel folder is loaded with TensorFlow, its serving signature is
  frozen into a GraphDef and dreamed on like inception5h: its layers are the
  TensorFlow name scopes of the Keras layers (``model_1/conv2_1``), and any op
  name of the graph works too.
- ``adapter_for_keras`` wraps a Keras model:

  * preprocessing is the user's to state (``--preprocess``, default ``none``);
  * a 1-channel (grayscale) model gets the mean of R, G and B, so the dream
    stays a viewable RGB image;
  * layers of nested models (a Keras application used as a layer) are listed
    and dreamable as ``outer/inner`` (``efficientnetb0/block5c_add``);
  * a model built for one input size is rebuilt from its config for any
    size (the whole model, else the part up to its last image-like layer);
    the original model still classifies, at its own size.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from dreamer.errors import ModelError, UnsafeFileError, first_line
from dreamer.models.base import LayerInfo, ModelAdapter
from dreamer.models.userbase import DEFAULT_CLASSIFY_SIZE, default_layer, graph_adapter, input_preprocess

#: Separates a nested model's name from its inner layer's name.
NESTED_SEPARATOR = "/"


def load_user_model(path: Path, preprocess: str | None = None, unsafe: bool = False,
                    input_name: str | None = None) -> ModelAdapter:
    """The adapter for a saved model file, a SavedModel folder or a frozen GraphDef (``.pb``).

    ``input_name`` names a GraphDef's input op (found by itself otherwise).

    Raises:
        UnsafeFileError: the file needs code execution and ``unsafe`` is off.
        ModelError: the file is missing, corrupt or not a model.
    """
    from dreamer.models.graphfile import is_graph_file, load_graph_file

    path = Path(path)
    if is_graph_file(path):
        return load_graph_file(path, preprocess, input_name, unsafe)
    if input_name is not None:
        raise ModelError("--input-name is for a frozen GraphDef (.pb) model")
    if path.is_dir():
        return load_saved_model(path, preprocess)
    return adapter_for_keras(load_keras_file(path, unsafe), str(path), preprocess)


def load_keras_file(path: Path, unsafe: bool = False):
    """Load a ``.keras`` or ``.h5`` file as a Keras model.

    Raises:
        UnsafeFileError: the file needs code execution and ``unsafe`` is off.
        ModelError: the file is missing, corrupt or not a model.
    """
    import keras

    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ModelError(f"{path}: a folder; load SavedModel folders with load_saved_model")
    if suffix not in (".keras", ".h5", ".hdf5"):
        raise ModelError(f"{path}: not a model file (expected .keras, .h5 or a SavedModel folder)")
    if suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: damaged or not a .keras file (a .keras file is a zip archive)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise UnsafeFileError(
                f"{path}: loading this model would run code stored in the file (e.g. a Lambda "
                "layer); if you trust it, pass --unsafe-load"
            ) from None
        raise ModelError(f"{path}: cannot load model ({first_line(exc)})") from None
    except (OSError, TypeError, KeyError, AttributeError, ImportError) as exc:
        raise ModelError(f"{path}: cannot load model ({first_line(exc)})") from None


def load_saved_model(path: Path, preprocess: str | None = None) -> ModelAdapter:
    """A SavedModel folder, frozen into a graph, as an adapter.

    Raises:
        ModelError: not a SavedModel, no serving signature, or not one image input.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from dreamer.models.graphdef import ImportedGraph

    if not (path / "saved_model.pb").exists():
        raise ModelError(f"{path}: folder is not a SavedModel (no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(path))
    except (OSError, ValueError, RuntimeError, tf.errors.OpError) as exc:
        raise ModelError(f"{path}: cannot load the SavedModel ({first_line(exc)})") from None
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" not in signatures:
        raise ModelError(
            f"{path}: the SavedModel has no serving_default signature, so its layers cannot be reached; "
            "save the Keras model with model.save('model.keras') (or model.export(folder)) instead"
        )
    try:
        frozen = convert_variables_to_constants_v2(signatures["serving_default"])
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ModelError(f"{path}: cannot freeze the SavedModel's graph ({first_line(exc)})") from None
    if len(frozen.inputs) != 1 or frozen.inputs[0].shape.rank != 4:
        raise ModelError(f"{path}: the SavedModel must take one NHWC image input; it takes {frozen.inputs}")
    channels = frozen.inputs[0].shape[-1]
    if channels not in (1, 3):
        raise ModelError(f"{path}: the SavedModel takes {channels} channels; dreamer feeds RGB (3) or grayscale (1)")
    graph_def = frozen.graph.as_graph_def()
    graph = ImportedGraph(graph_def, frozen.inputs[0].op.name, channels)
    layers = scope_layers(graph)
    if not layers:
        raise ModelError(f"{path}: the SavedModel has no image-like (4-D) layer to dream on")
    outputs = [t for t in frozen.outputs if t.shape.rank == 2]
    fixed = frozen.inputs[0].shape[1]
    return graph_adapter(
        path, graph, channels, layers, preprocess,
        classify_size=int(fixed) if fixed else DEFAULT_CLASSIFY_SIZE,
        classifier_output=outputs[0].op.name if outputs else "",
        layer_note="SavedModel layers are named by their TensorFlow name scope; any op name of the graph works too",
    )


def scope_layers(graph) -> list[LayerInfo]:
    """One layer per name scope: the last 4-D feature op in it, named by the scope."""
    last: dict[str, object] = {}
    for tensor in graph.feature_tensors():
        name = tensor.op.name
        if name.startswith("Func/"):  # TensorFlow's identities at inlined function borders
            continue
        scope = name.rsplit("/", 1)[0] if "/" in name else name
        for prefix in ("StatefulPartitionedCall/",):
            if scope.startswith(prefix):
                scope = scope[len(prefix):]
        last.pop(scope, None)
        last[scope] = tensor
    infos = []
    for scope, tensor in last.items():
        channels = tensor.shape[-1]
        if channels is not None:
            infos.append(LayerInfo(scope, (None, None, int(channels)), op=tensor.op.name))
    return infos


@dataclass
class KerasAdapter(ModelAdapter):
    """The user's Keras model: nested models flattened, any input size, grayscale handled.

    ``model`` is the model dreamed on (rebuilt for any size if needed);
    ``classifier`` is the original, used by ``classify`` at ``classify_size``.
    """

    classifier: object = None
    _nested: dict = field(default_factory=dict, repr=False)

    def layer_infos(self) -> list[LayerInfo]:
        if self._layers is None:
            self._layers = list(_list_layers(self.model, ""))
        return self._layers

    def feature_model(self, layer_names: Sequence[str]):
        import keras

        for name in layer_names:
            if not self._is_class_layer(name) and not self.is_dense_layer(name):
                self.layer_info(name)
        outputs = {name: _symbolic_output(self.model, name.split(NESTED_SEPARATOR)) for name in layer_names}
        inputs = self.model.inputs[0] if len(self.model.inputs) == 1 else self.model.inputs
        return keras.Model(inputs, outputs)

    def classifier_model(self):
        return self.classifier if self.classifier is not None else self.model


def adapter_for_keras(model, name: str, preprocess: str | None = None) -> KerasAdapter:
    """Wrap the user's Keras model; the default layer is two thirds of the way in.

    Raises:
        ModelError: not one image input, an unusable channel count, or no
            image-like layer.
    """
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ModelError(f"model {name!r} must take one NHWC image input")
    shape = tuple(model.inputs[0].shape)
    channels = shape[-1] or 3
    if channels not in (1, 3):
        raise ModelError(f"model {name!r} takes {channels} channels; dreamer feeds RGB (3) or grayscale (1)")
    fixed = shape[1] is not None or shape[2] is not None
    dream_model = any_size_model(model, name) if fixed else model
    layers = list(_list_layers(dream_model, ""))
    if not layers:
        raise ModelError(f"model {name!r} has no layer with a 4-D (image-like) output to dream on")
    return KerasAdapter(
        name=name,
        model=dream_model,
        preprocess=input_preprocess(preprocess, channels),
        default_layer=default_layer(layers),
        min_size=8,
        input_channels=int(channels),
        classify_size=int(shape[1]) if shape[1] and shape[1] == shape[2] else DEFAULT_CLASSIFY_SIZE,
        classifier=model,
        _layers=layers,
    )


def any_size_model(model, name: str = "model"):
    """``model`` rebuilt from its config for inputs of any height and width.

    The whole model if it allows it, else its part up to the last layer with
    an image-like output (a Flatten/Dense head needs a fixed size). The
    weights are copied.

    Raises:
        ModelError: neither can be rebuilt.
    """
    import keras

    errors = []
    candidates = [model]
    last = _last_image_layer(model)
    if last is not None and last is not model.layers[-1]:
        try:
            candidates.append(keras.Model(model.inputs[0], _output_in(model, last), name=f"{model.name}_features"))
        except ValueError as exc:
            errors.append(first_line(exc))
    for candidate in candidates:
        try:
            rebuilt = _rebuild_any_size(candidate)
        except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError) as exc:
            errors.append(first_line(exc))
            continue
        return rebuilt
    raise ModelError(
        f"model {name!r} takes only {tuple(model.inputs[0].shape[1:3])} images and could not be rebuilt for "
        f"other sizes ({errors[-1] if errors else 'unknown reason'}); save it with a (None, None, C) input"
    )


def _rebuild_any_size(model):
    import keras

    config = _free_spatial_dims(model.get_config())
    rebuilt = model.__class__.from_config(config)
    if not isinstance(rebuilt, keras.Model):
        raise TypeError("not a model")
    for layer in rebuilt.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return rebuilt


def _free_spatial_dims(config):
    """A copy of a model config with every 4-D shape's height and width set to None."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key in ("batch_shape", "shape", "input_shape", "batch_input_shape") and _is_4d_shape(value):
                out[key] = [value[0], None, None, value[3]]
            else:
                out[key] = _free_spatial_dims(value)
        return out
    if isinstance(config, list):
        return [_free_spatial_dims(v) for v in config]
    return config


def _is_4d_shape(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 4 and all(v is None or isinstance(v, int) for v in value)


def _last_image_layer(model):
    found = None
    for layer in model.layers:
        shape = _output_shape(layer)
        if shape is not None and len(shape) == 4:
            found = layer
    return found


def _output_in(model, layer):
    """``layer``'s output in ``model``'s graph (a nested model's ``output`` is its own graph's)."""
    if _is_nested_model(layer):
        for node in getattr(layer, "_inbound_nodes", []):
            outputs = getattr(node, "outputs", None)
            if outputs and node.operation is layer:
                return outputs[0]
    return layer.output


def _is_nested_model(layer) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "inputs") and getattr(layer, "inputs", None)


def _list_layers(model, prefix: str):
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        if _is_nested_model(layer):
            yield from _list_layers(layer, f"{prefix}{layer.name}{NESTED_SEPARATOR}")
        shape = _output_shape(layer)
        if shape is not None and len(shape) == 4:
            yield LayerInfo(prefix + layer.name, tuple(shape[1:]))


def _symbolic_output(model, parts: list[str]):
    """The symbolic output of ``outer/inner/...`` in ``model``'s own graph."""
    import keras

    layer = model.get_layer(parts[0])
    if len(parts) == 1:
        return layer.output
    inner = _symbolic_output(layer, parts[1:])
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        raise ModelError(f"nested model {layer.name!r} is not called in {model.name!r}")
    outer_input = nodes[0].input_tensors
    sub = keras.Model(layer.inputs[0] if len(layer.inputs) == 1 else layer.inputs, inner)
    return sub(outer_input[0] if len(outer_input) == 1 else outer_input)


def _output_shape(layer):
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None
