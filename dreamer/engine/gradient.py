"""The compiled gradient of an objective with respect to an image's pixels.

``ObjectiveGradient`` receives a ready feature network from the model side
(``dreamer.models.FeatureNetwork``: preprocessing, the network that returns
the activations, already rewritten for speed) and an objective; it does not
load or rewrite models itself.

The step's contract, what the engine needs from a backend (this module is
the TensorFlow implementation):

- in: ``image``, an HxWx3 float32 NumPy array in [0, 1] (a whole image or
  a tile); ``weight``, a float; ``frame``, the tile's (top, left, height,
  width) in the whole image and the whole image's (height, width), or None.
- out: (the gradient of ``weight * objective`` with respect to ``image``, an
  HxWx3 float32 NumPy array; ``weight * objective`` as a Python float).
- any H and W at or above ``min_size`` without recompiling for each;
  ``ModelError`` when the network cannot run at that size.
- the caller (``dreamer.engine.ascent``) does the jitter, tiling,
  normalisation, update and clip in NumPy.

Speed (issue 24, ``docs/performance-float32.md``): in float32 the folded
BatchNorms reach oneDNN's fused convolution + bias + ReLU in this gradient
graph, and its convolutions run at the rate of a large matrix product on
the CPU. Measured and not adopted: all steps of an octave in one
``tf.function`` (a ``tf.while_loop``, as the TensorFlow tutorial does) took
more CPU time per step than this per-step call; constant weights, thread
pool and oneDNN settings changed nothing.
"""

from __future__ import annotations

import numpy as np

from dreamer.errors import ModelError, first_line


class ObjectiveGradient:
    """Call with an HxWx3 float32 array in [0, 1] and a weight: returns (gradient, weight * objective).

    The order matches ``ascent_step``'s (image, objective): the array first,
    the objective's value second. It is traced once for unknown height and
    width, so new octave and tile sizes don't recompile. ``frame`` says where
    the image lies in the whole image when it is a tile; the objective reads
    it as ``activations[dreamer.objectives.FRAME]`` (a neuron means one
    position of the whole image).

    Attributes:
        network: the FeatureNetwork (its ``precision`` is the arithmetic used).
        objective: the bound objective.
        min_size: the smallest image side the network accepts.
        precision: ``"float32"`` or ``"bfloat16"``.
    """

    def __init__(self, network, objective):
        self.network = network
        self.objective = objective
        self.min_size: int = network.min_size
        self.precision: str = network.precision
        self._gradient = _compiled_gradient(network, objective)

    def __call__(self, image: np.ndarray, weight: float = 1.0,
                 frame: tuple[int, int, int, int, int, int] | None = None) -> tuple[np.ndarray, float]:
        """``frame``: (top, left, height, width) of ``image`` in the whole image, then the whole image's
        (height, width); None: ``image`` is the whole image."""
        import tensorflow as tf

        height, width = image.shape[:2]
        frame = (0, 0, height, width, height, width) if frame is None else frame
        try:
            value, grad = self._gradient(image, np.float32(weight), np.asarray(frame, np.float32))
        except tf.errors.InvalidArgumentError as exc:  # e.g. a Flatten/Dense head at another size than trained
            raise ModelError(f"the network cannot run on a {width}x{height} image ({tensorflow_reason(exc.message)}; "
                             "a class output behind a Flatten/Dense head works at its trained size only)") from None
        return grad.numpy(), float(value)


def tensorflow_reason(message: str) -> str:
    """The line of a TensorFlow graph error that says what went wrong (not where), cut to one short line."""
    lines = [line.strip() for line in message.splitlines()]
    reasons = [line for line in lines if line and not line.startswith(("File ", "[[", "Detected at node"))
               and line != "Graph execution error:"]
    return first_line(reasons[-1] if reasons else message, 160)


def _compiled_gradient(network, objective):
    """A ``tf.function`` (image, weight, frame) -> (weight * objective, its gradient), for any image size."""
    import tensorflow as tf

    from dreamer.objectives import FRAME

    layer_names = objective.layer_names()

    def activations(x):
        out = network.features(x, training=False)
        if not isinstance(out, dict):
            out = {layer_names[0]: out}
        return {name: tf.cast(value, tf.float32) for name, value in out.items()}

    @tf.function(
        input_signature=[tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([], tf.float32),
                         tf.TensorSpec([6], tf.float32)],
        reduce_retracing=True,
    )
    def gradient(image, weight, frame):
        with tf.GradientTape() as tape:
            tape.watch(image)
            value = weight * objective({**activations(network.preprocess(image[None])), FRAME: frame})
        return value, tape.gradient(value, image)

    return gradient
