"""Convolutions computed the way the CPU runs fastest: the rule, and the layer that follows it.

On x86 CPUs without AVX-512 (AVX2 only: most laptops, AMD Zen 2/3, many
cloud machines) TensorFlow's oneDNN runs a float32 forward convolution with
its ``gemm:jit`` kernel (im2col and a matrix product), because TensorFlow
hands it the kernel in plain layout; the input gradient of the same
convolution reorders the kernel and runs oneDNN's faster ``brg_conv``
kernel (``ONEDNN_VERBOSE=1`` shows both). A stride-1 ``same`` convolution
with odd kernel sizes *is* the input gradient of the convolution with the
kernel flipped and its channels swapped, so the layer that
:func:`input_gradient_layer` builds computes it that way, and keeps the ordinary input gradient for the
backward pass: both directions then run on ``brg_conv``. With AVX-512,
oneDNN's forward already uses ``brg_conv`` and the detour is slower, so
:func:`input_gradient_pays` says no there (figures in
``docs/performance-float32.md``).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence


def input_gradient_pays(
    backend: str,
    cpu_flags: Iterable[str],
    environ: Mapping[str, str],
    gpus: Sequence = (),
) -> bool:
    """Whether same convolutions should run as input gradients: TensorFlow with oneDNN on an AVX2 CPU.

    Args:
        backend: the Keras backend's name.
        cpu_flags: the CPU's flags as oneDNN may use them
            (``dreamer.precision.usable_cpu_flags``).
        environ: the environment (``TF_ENABLE_ONEDNN_OPTS=0`` turns oneDNN off).
        gpus: the GPUs the backend sees (then the network runs there).
    """
    flags = set(cpu_flags)
    if backend != "tensorflow" or gpus or not {"avx2", "fma"} <= flags or "avx512f" in flags:
        return False
    return environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")


def input_gradient_here() -> bool:
    """:func:`input_gradient_pays` for this process (backend, CPU, environment, GPUs)."""
    import os

    from dreamer import backend
    from dreamer.precision import gpu_capabilities, usable_cpu_flags

    name = backend.chosen_name()
    gpus = gpu_capabilities() if name == "tensorflow" else ()
    return input_gradient_pays(name, usable_cpu_flags(), os.environ, gpus)


def fits(layer) -> bool:
    """Whether a ``Conv2D`` layer is a stride-1 ``same`` convolution with odd kernel sizes above 1x1."""
    import keras

    if type(layer) is not keras.layers.Conv2D:
        return False
    config = layer.get_config()
    size = tuple(config["kernel_size"])
    return (
        config["padding"] == "same"
        and tuple(config["strides"]) == (1, 1)
        and tuple(config["dilation_rate"]) == (1, 1)
        and config.get("groups", 1) == 1
        and config.get("data_format", "channels_last") == "channels_last"
        and all(k % 2 == 1 for k in size)
        and size != (1, 1)
    )


def input_gradient_layer(config: dict):
    """The ``Conv2D`` subclass ``InputGradientConv2D`` built from a ``Conv2D``'s config."""
    return _layer_class().from_config(config)


_CLASS = []


def _layer_class():
    """The layer class, defined on first use (Keras is imported only then)."""
    if not _CLASS:
        import keras

        class InputGradientConv2D(keras.layers.Conv2D):
            """A ``Conv2D`` whose convolution runs as an input gradient (same weights, same result)."""

            def convolution_op(self, inputs, kernel):
                from dreamer import backend

                return backend.same_convolution(inputs, kernel)

        _CLASS.append(InputGradientConv2D)
    return _CLASS[0]
