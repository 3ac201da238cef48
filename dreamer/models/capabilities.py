"""What a loaded model can do, found by trying it: whether its class output takes other image sizes.

Used by every command that renders or probes a class output (atlas, ``dream
--param``, probe). Imports TensorFlow when a check runs.
"""

from __future__ import annotations

import numpy as np

from dreamer.errors import ModelError


def check_class_output_any_size(adapter, class_layer: str) -> None:
    """Raise unless the class output can be computed on an image of another size than the classifier's own.

    Rendering moves and rescales the image at every step, so a head that
    needs one input size (Flatten then Dense) can't be rendered.

    Raises:
        ModelError: the class output needs the classifier's own input size.
    """
    if not class_output_takes(adapter, class_layer, adapter.classify_size + 8):
        raise ModelError(
            f"the class output {class_layer!r} of model {adapter.name!r} needs its own input size (a fixed-size "
            f"head such as Flatten then Dense), so its classes can't be rendered; give it global pooling before "
            f"the Dense layer, or map its channels instead (--layer)")


def class_output_takes(adapter, class_layer: str, side: int) -> bool:
    """Whether the class output can be computed on a ``side``-square image (one run on a blank image).

    A head that needs the classifier's own input size (Flatten then Dense)
    can't, even after the any-size rebuild: its Dense kernel fits one size.
    """
    import tensorflow as tf

    blank = np.zeros((1, side, side, adapter.input_channels), np.float32)
    try:
        adapter.feature_model([class_layer])(blank)
    except (ValueError, tf.errors.InvalidArgumentError):
        return False
    return True


def is_class_layer(adapter, layer_name: str) -> bool:
    """Whether ``layer_name`` is the model's class output."""
    try:
        return adapter.class_layer().name == layer_name
    except ModelError:
        return False
