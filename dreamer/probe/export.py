"""``--export head.keras``: the network cut at the answer's layer, plus the head that decodes there.

The exported model is made of plain Keras layers only, so it loads with
``keras.models.load_model(path)`` and needs nothing from dreamer:

    image (any size, RGB, 0-255) -> Resizing (centre crop to the probe's square) -> Rescaling(1/255)
    -> the model's own input scaling (a fixed 1x1 convolution) -> the network up to the layer
    -> the head (global average pooling, or a 2x2 grid of average pools, or nothing for a 2-D layer)
    -> Dense(1, sigmoid): above 0.5 means T(x) (or the second class)

The dense layer is the ridge classifier the probe cross-validated at that
layer, trained on every given image (variants included); its reported
accuracy is the cross-validated one. The model's input scaling must be a
per-pixel affine map (every registered model's is); a network that is not
a Keras model (a GraphDef) cannot be exported.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dreamer.errors import DreamerError, ImageError
from dreamer.fileio import atomic_path
from dreamer.probe.decode import ridge_weights

#: The exported score is sigmoid(SHARPNESS * ridge score): the ridge score is about -1 or +1 on its training rows.
SHARPNESS = 4.0


def export_head(adapter, records, answer, settings, path: str | os.PathLike) -> dict:
    """Train the answer's head on all images, save network + head to ``path``; what was written, as a dict.

    Returns a dict with ``path`` (None when nothing could be exported, then ``note`` says why), ``layer``,
    ``head``, ``accuracy`` and ``interval`` (cross-validated).

    A model that cannot be cut (not Keras, an input scaling that is not affine) gives ``path`` None and
    the reason in ``note``.
    """
    if answer.decodable_to is None:
        return {"path": None, "note": "no head is decodable at any probed layer, so there is nothing to export"}
    record = next(record for record in records if record.layer.name == answer.decodable_to)
    labels, groups = np.concatenate(record.labels), np.concatenate(record.groups)
    weights, bias = ridge_weights(record.features(answer.head), labels, groups, settings.seed)
    try:
        model = build_model(adapter, record, answer.head, settings.size, (weights, bias))
    except DreamerError as exc:  # the probe's numbers stand; only the export is impossible
        return {"path": None, "note": str(exc)}
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            model.save(tmp)
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return {"path": str(path), "layer": answer.decodable_to, "head": answer.head, "accuracy": answer.accuracy,
            "interval": list(answer.interval), "input": "RGB images, any size, values 0-255",
            "output": "sigmoid score; above 0.5 means the second kind of input"}


def build_model(adapter, record, head: str, size: int, classifier: tuple[np.ndarray, float]):
    """The Keras model: scaling, the network cut at ``record``'s layer, ``head``, the fitted dense layer."""
    import keras

    name = record.layer.name
    weights, bias = classifier
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Resizing(size, size, crop_to_aspect_ratio=True, name="centre_square")(inputs)
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(x)
    x = scaling_layer(adapter)(x)
    x = _backbone(adapter, name)(x)
    x = _head_layers(head, record.shape, x)
    score = keras.layers.Dense(1, activation="sigmoid", name="decoder")
    outputs = score(x)
    score.set_weights([(SHARPNESS * weights).reshape(-1, 1).astype(np.float32),
                       np.array([SHARPNESS * bias], np.float32)])
    return keras.Model(inputs, outputs, name=f"probe_head_{name}_{head}")


def scaling_layer(adapter):
    """The adapter's [0, 1] -> model-input scaling as a fixed 1x1 convolution.

    Raises:
        DreamerError: the scaling is not a per-pixel affine map of the three channels.
    """
    import keras

    probes = np.concatenate([np.zeros((1, 3)), np.eye(3), np.random.default_rng(0).uniform(0, 1, (8, 3))])
    values = keras.ops.convert_to_numpy(adapter.preprocess(probes.reshape(1, 1, -1, 3).astype(np.float32)))
    values = values.reshape(len(probes), -1).astype(np.float64)
    offset, matrix = values[0], values[1:4] - values[0]
    if not np.allclose(probes[4:] @ matrix + offset, values[4:], atol=1e-4 * (1 + np.abs(values).max())):
        raise DreamerError(f"model {adapter.name!r}: its input scaling is not a per-pixel affine map, so it "
                           "cannot be exported as plain Keras layers")
    layer = keras.layers.Conv2D(values.shape[1], 1, name="model_input_scaling", trainable=False)
    layer.build((None, None, None, 3))
    layer.set_weights([matrix.reshape(1, 1, 3, -1).astype(np.float32), offset.astype(np.float32)])
    return layer


def _backbone(adapter, name: str):
    import keras

    model = getattr(adapter, "model", None)
    if not isinstance(model, keras.Model):
        raise DreamerError(f"model {adapter.name!r} is not a Keras model, so it cannot be exported")
    cut = adapter.feature_model([name])
    single = keras.Model(cut.inputs, cut.outputs[0] if isinstance(cut.outputs, list) else cut.output[name],
                         name=f"network_to_{name}")
    return single


def _head_layers(head: str, shape: tuple, x):
    """The head's fixed part: pooling for ``pooled``, a 2x2 grid of average pools for ``grid``."""
    import keras

    if len(shape) == 1:
        return x
    if head == "pooled":
        return keras.layers.GlobalAveragePooling2D(name="pooled")(x)
    height, width = shape[0], shape[1]
    if not (height and width and height >= 2 and width >= 2):
        raise DreamerError(f"the layer's map is {height}x{width}: too small for a 2x2-grid head to be exported")
    pool = (-(-height // 2), -(-width // 2))
    strides = (max(1, height // 2), max(1, width // 2))
    return keras.layers.Flatten(name="grid_cells")(
        keras.layers.AveragePooling2D(pool, strides, name="grid_2x2")(x))
