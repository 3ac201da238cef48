"""The TensorFlow backend: ``tf.GradientTape`` and ``tf.function`` with free image sizes."""

from __future__ import annotations

import tensorflow as tf

from dreamer.errors import first_line

RUNTIME_ERRORS = (tf.errors.InvalidArgumentError,)


def grad(loss):
    def value_and_gradient(x, *args):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value, aux = loss(x, *args)
        return value, aux, tape.gradient(value, x)

    return value_and_gradient


def compile_step(step, signature, variables):
    """A ``tf.function`` traced once for the signature's free sizes (``variables`` are read as they are)."""
    specs = [tf.TensorSpec(shape, dtype) for shape, dtype in signature]
    return tf.function(step, input_signature=specs, reduce_retracing=True)


def error_reason(exc: BaseException) -> str:
    """The line of a TensorFlow graph error that says what went wrong (not where), cut to one short line."""
    message = getattr(exc, "message", str(exc))
    lines = [line.strip() for line in message.splitlines()]
    reasons = [line for line in lines if line and not line.startswith(("File ", "[[", "Detected at node"))
               and line != "Graph execution error:"]
    return first_line(reasons[-1] if reasons else message, 160)


def gpu_capabilities() -> list[tuple[int, int]]:
    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return capabilities


def devices() -> list[str]:
    return [device.name.replace("/physical_device:", "").lower() for device in tf.config.list_physical_devices()]


_ONES = [1, 1, 1, 1]


def same_convolution(x, kernel):
    """A stride-1 ``same`` convolution (odd kernel sizes) through oneDNN's input-gradient kernel, both ways.

    The convolution of ``x`` with ``kernel`` is the input gradient of a
    convolution with the kernel flipped and its channels swapped; its own
    input gradient stays the ordinary one. See ``dreamer.models.convolution``
    for when this is faster. The kernel's value is read when the step is
    traced and both layouts become constants of the graph (flipping it at
    every step cost 2% of an InceptionV3 step); the weights' gradient still
    goes to ``kernel``.
    """
    with tf.init_scope():  # eager, even while a tf.function traces
        value = tf.convert_to_tensor(kernel)
        flipped = tf.constant(tf.transpose(tf.reverse(value, [0, 1]), [0, 1, 3, 2]))
        value = tf.constant(value)
    return _same_convolution(tf.convert_to_tensor(x), tf.convert_to_tensor(kernel), value, flipped)


@tf.custom_gradient
def _same_convolution(x, kernel, value, flipped):
    shape = tf.shape(x)
    sizes = tf.stack([shape[0], shape[1], shape[2], tf.shape(value)[3]])
    y = tf.raw_ops.Conv2DBackpropInput(input_sizes=sizes, filter=flipped, out_backprop=x, strides=_ONES, padding="SAME")

    def gradient(dy):
        dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=shape, filter=value, out_backprop=dy, strides=_ONES,
                                            padding="SAME", name="backward_data")
        dkernel = tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(kernel), out_backprop=dy,
                                                  strides=_ONES, padding="SAME", name="backward_filter")
        return dx, dkernel, None, None

    return y, gradient
