"""The one place that takes a gradient, on any Keras backend.

``gradients(network, images, layer)`` runs the network forward on a batch
and returns the per-image target scores and the gradient of their sum with
respect to the images (``layer`` None) or to one layer's activations. The
images are independent, so the gradient of the sum is each image's own
gradient. Everything else in ``dreamer.attribution`` is numpy on the arrays
this returns.

The step is written once in ``keras.ops``; ``dreamer.backend`` takes its
gradient and compiles it (TensorFlow: one ``tf.function`` for every batch
and image size; JAX: ``jax.jit``, once per shape; PyTorch: eager). A
layer's gradient is the gradient with respect to a zero ``delta`` added to
that layer's output inside the feature model's graph
(``KeptNetwork.raw_outputs``): JAX and PyTorch can only differentiate with
respect to an argument, not an intermediate tensor.
"""

from __future__ import annotations

import numpy as np

from dreamer import backend

#: The compiled image gradient's arguments: a batch of images of any size, a class index.
IMAGE_SIGNATURE = (((None, None, None, 3), "float32"), ((), "int32"))
#: The compiled layer gradient's arguments: the zero added to the layer's output, the images, a class index.
LAYER_SIGNATURE = (((None, None, None, None), "float32"),) + IMAGE_SIGNATURE


def gradients(network, images: np.ndarray, layer: str | None = None):
    """Scores and gradients of a batch of [0, 1] images (compiled once per model, layers and objective; a
    class's index is an argument, so every class shares one).

    Args:
        network: a ``dreamer.attribution.network.Network``.
        images: N x H x W x 3 float32 in [0, 1].
        layer: None for the gradient with respect to the images, or a layer
            the network returns, for the gradient with respect to its activations.

    Returns:
        (scores (N,), the layer's activations or None, the gradient as float32;
        zeros where the target does not depend on it).
    """
    key = network.gradient_key(layer)
    if key not in network.kept.gradients:
        network.kept.gradients[key] = _compiled(network, layer)
    function, index = network.kept.gradients[key], network.index()
    images = np.asarray(images, np.float32)
    if layer is None:
        activations, grad = network.run(lambda x: function(x, index), images)
    else:
        delta = np.zeros(network.kept.output_shape(layer, images.shape), np.float32)
        activations, grad = network.run(lambda x: function(delta, x, index), images)
    activations = backend.to_numpy(activations)
    scores = np.asarray(network.scores(activations), np.float32)
    grad = np.asarray(backend.to_numpy(grad), np.float32)
    return scores, None if layer is None else np.asarray(activations[layer], np.float32), grad


def _compiled(network, layer: str | None):
    """A compiled (images, class index) -> (activations, d sum(scores) / d images), or, for a layer,
    (delta, images, class index) -> (activations, d sum(scores) / d the layer's activations)."""
    import keras

    def total(wrt, *args):
        images, index = (wrt, *args) if layer is None else args
        activations = network.kept.raw_outputs(images, None if layer is None else (layer, wrt))
        return network.batch_total(activations, index), activations

    value_and_gradient = backend.grad(total)

    def step(wrt, *args):
        _, activations, grad = value_and_gradient(wrt, *args)
        return activations, keras.ops.zeros_like(wrt) if grad is None else grad

    variables = tuple(network.kept.features.variables) + tuple(getattr(network.target.objective, "variables", ()))
    return backend.compile_step(step, IMAGE_SIGNATURE if layer is None else LAYER_SIGNATURE, variables)
