"""The JAX backend: ``jax.value_and_grad`` and ``jax.jit`` of a stateless step.

Keras variables hold JAX arrays; a jitted function that read them directly
would bake 20 MB of weights into every compilation as constants. Instead the
compiled step takes their values as its first argument and reads them
through a ``keras.StatelessScope``. ``jax.jit`` compiles once per input
shape (a new octave or tile size compiles again; the signature's free sizes
mean nothing here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras

from dreamer.errors import first_line

RUNTIME_ERRORS = (ValueError, TypeError)
KERNEL_ERRORS = ()  # their CPU kernels exist for every dtype dreamer uses


def grad(loss):
    def value_and_gradient(x, *args):
        (value, aux), gradient = jax.value_and_grad(loss, has_aux=True)(x, *args)
        return value, aux, gradient

    return value_and_gradient


def compile_step(step, signature, variables):
    dtypes = [dtype for _, dtype in signature]

    def stateless(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return step(*args)

    jitted = jax.jit(stateless)

    def compiled(*args):
        values = [variable.value for variable in variables]
        return jitted(values, *(jnp.asarray(arg, dtype) for arg, dtype in zip(args, dtypes)))

    return compiled


def error_reason(exc: BaseException) -> str:
    return first_line(str(exc), 160)


def gpu_capabilities() -> list[tuple[int, int]]:
    found = []
    for device in jax.devices():
        if device.platform == "gpu":
            text = str(getattr(device, "compute_capability", "0.0"))
            major, _, minor = text.partition(".")
            found.append((int(major or 0), int(minor or 0)))
    return found


def devices() -> list[str]:
    return [f"{device.platform}:{device.id}" for device in jax.devices()]
