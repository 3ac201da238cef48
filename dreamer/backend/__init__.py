"""What differs between Keras 3's backends, one implementation per backend; everything else uses ``keras.ops``.

The backend is Keras's own choice: ``KERAS_BACKEND``, else the ``backend``
of ``keras.json`` (in ``$KERAS_HOME`` or ``~/.keras``), else TensorFlow.
dreamer never switches it. Three things differ and live here:

- taking a value and its gradient (TensorFlow: ``tf.GradientTape``; JAX:
  ``jax.value_and_grad``; PyTorch: ``torch.autograd.grad``);
- compiling a step for any image size (TensorFlow: ``tf.function`` with an
  input signature of free sizes; JAX: ``jax.jit`` of a *stateless* call, the
  Keras variables' values passed in as arguments; PyTorch: run eagerly);
- turning results into NumPy, and which errors mean "the network can't run
  at this size".

A step is written once, for every backend, as a plain function of keras.ops
that calls ``grad(loss)`` where it needs a gradient; ``compile_step`` makes it
fast on the chosen backend.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Callable, Sequence

from dreamer.errors import ModelError

BACKENDS = ("tensorflow", "jax", "torch")
#: A compiled step's argument: (shape with None where free, dtype name).
Spec = tuple[tuple, str]


def chosen_name() -> str:
    """The backend Keras uses or will use, read without importing Keras (nor TensorFlow)."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    return configured_name(os.environ)


def configured_name(environ) -> str:
    """Keras' rule: ``KERAS_BACKEND``, else ``backend`` in ``$KERAS_HOME/keras.json`` (or
    ``~/.keras/keras.json``), else ``tensorflow``."""
    name = environ.get("KERAS_BACKEND")
    if not name:
        home = environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        try:
            with open(os.path.join(home, "keras.json"), encoding="utf-8") as f:
                name = json.load(f).get("backend")
        except (OSError, ValueError, AttributeError):
            name = None
    return name or "tensorflow"


def implementation():
    """The module that implements the chosen backend (``dreamer.backend.tensorflow_impl`` and so on)."""
    name = chosen_name()
    if name not in BACKENDS:
        raise ModelError(f"Keras backend {name!r} is not supported; set KERAS_BACKEND to one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"dreamer.backend.{name}_impl")


def require_tensorflow(what: str) -> None:
    """One line when ``what`` (a .pb graph, a SavedModel, ...) needs TensorFlow and another backend is chosen.

    Raises:
        ModelError: the backend is not TensorFlow.
    """
    name = chosen_name()
    if name != "tensorflow":
        raise ModelError(f"{what} needs the TensorFlow backend; Keras uses {name} here "
                         "(run with KERAS_BACKEND=tensorflow)")


def grad(loss: Callable) -> Callable:
    """``loss(x, *args) -> (scalar, aux)`` -> ``f(x, *args) -> (scalar, aux, d scalar / d x)``, for inside a step."""
    return implementation().grad(loss)


def compile_step(step: Callable, signature: Sequence[Spec], variables: Sequence = ()) -> Callable:
    """``step`` compiled for the chosen backend; the result takes NumPy arrays or tensors.

    Args:
        step: a function of backend tensors (keras.ops), possibly calling ``grad``.
        signature: each argument's shape (None where free: one compilation
            serves every size under TensorFlow) and dtype.
        variables: the Keras variables ``step`` reads (a model's
            ``variables``): under JAX their values are passed to the
            compiled function instead of being baked into it.
    """
    return implementation().compile_step(step, tuple(signature), tuple(variables))


def same_convolution(x, kernel):
    """A stride-1 ``same`` convolution computed as an input gradient (TensorFlow only; see
    ``dreamer.models.convolution``)."""
    return implementation().same_convolution(x, kernel)


def winograd_convolution(x, kernel, padding: str):
    """A stride-1 3x3, 1x7 or 7x1 convolution by Winograd's algorithm (TensorFlow only; see backend.winograd)."""
    return implementation().winograd_convolution(x, kernel, padding)


def to_numpy(value):
    """A backend tensor (or a structure of them) as NumPy."""
    import keras

    return keras.tree.map_structure(keras.ops.convert_to_numpy, value)


def runtime_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a network raises when it can't run on an input (a shape mismatch inside it)."""
    return implementation().RUNTIME_ERRORS


def kernel_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a network raises when this machine has no kernel for one of its ops in its dtype."""
    return implementation().KERNEL_ERRORS


def error_reason(exc: BaseException) -> str:
    """The line of a backend's error that says what went wrong, not where."""
    return implementation().error_reason(exc)


def gpu_capabilities() -> list[tuple[int, int]]:
    """The CUDA compute capability of each GPU the backend sees ((0, 0) where unknown)."""
    return implementation().gpu_capabilities()


def devices() -> list[str]:
    """The devices the backend computes on, in its own words (``cpu:0``, ``cuda:0``)."""
    return implementation().devices()
