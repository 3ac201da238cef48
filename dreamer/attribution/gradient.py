"""The one place that takes a gradient.

``gradients(network, images, layer)`` runs the network forward on a batch
and returns the per-image target scores and the gradient of their sum with
respect to the images (``layer`` None) or to one layer's activations. The
images are independent, so the gradient of the sum is each image's own
gradient. Everything else in ``dreamer.attribution`` is numpy on the arrays
this returns: taking gradients on another Keras backend (JAX, PyTorch)
replaces this module's body and nothing else.
"""

from __future__ import annotations

import numpy as np


def gradients(network, images: np.ndarray, layer: str | None = None):
    """Scores and gradients of a batch of [0, 1] images (TensorFlow's tape, compiled once per model, layers
    and objective; a class's index is an argument, so every class shares one).

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
    activations, grad = network.run(lambda x: function(x, index), images)
    scores = np.asarray(network.scores(activations), np.float32)
    return scores, None if layer is None else np.asarray(activations[layer], np.float32), np.asarray(grad, np.float32)


def _compiled(network, layer: str | None):
    """A ``tf.function`` (images, class index) -> (activations, d sum(scores) / d images or the layer's
    activations)."""
    import tensorflow as tf

    def run(images, index):
        with tf.GradientTape() as tape:
            tape.watch(images)
            activations = network.raw_outputs(images)
            total = network.batch_total(activations, index)
        wrt = images if layer is None else activations[layer]
        grad = tape.gradient(total, wrt)
        return activations, tf.zeros_like(wrt) if grad is None else grad

    return tf.function(run, reduce_retracing=True)
