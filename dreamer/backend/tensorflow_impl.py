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
