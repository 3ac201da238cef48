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

On the same CPUs a 3x3, 1x7 or 7x1 convolution with 64 channels or more on
both sides runs faster still by Winograd's algorithm
(``dreamer.backend.winograd``: fewer multiplications, the transforms
compiled by XLA for each image size), both ways: :func:`winograd_fits` says
which, :func:`winograd_layer` builds the layer, for the network a kept
``Dreamer`` moves to when an image size comes back
(``dreamer.models.rewrite.FeatureNetwork.upgrade``).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from dreamer.backend import winograd


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


#: Set to 0 to keep a kept ``Dreamer`` off Winograd convolutions (its last bits of rounding differ).
WINOGRAD_VARIABLE = "DREAMER_WINOGRAD"


def winograd_allowed(environ: Mapping[str, str]) -> bool:
    """Whether the environment lets a kept ``Dreamer`` move to Winograd convolutions (``DREAMER_WINOGRAD``).

    Winograd's rounding differs from a direct convolution's in the last
    bits, and a dream's steps let such differences grow: once a size has
    moved, the same seed gives the same picture but not the same pixels as
    a dream of that image alone. ``DREAMER_WINOGRAD=0`` keeps the pixels
    reproducible at the price of the speed.
    """
    return environ.get(WINOGRAD_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


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


def winograd_fits(layer) -> bool:
    """Whether a Keras layer is a float32 stride-1 ``Conv2D`` of ``winograd.KERNELS`` (same or valid), wide enough."""
    import keras

    if type(layer) is not keras.layers.Conv2D or getattr(layer, "kernel", None) is None:
        return False
    config = layer.get_config()
    return (
        tuple(config["kernel_size"]) in winograd.KERNELS
        and tuple(config["strides"]) == (1, 1)
        and tuple(config["dilation_rate"]) == (1, 1)
        and config.get("groups", 1) == 1
        and config.get("data_format", "channels_last") == "channels_last"
        and config["padding"] in ("same", "valid")
        and layer.dtype_policy.compute_dtype == "float32"
        and min(layer.kernel.shape[2], layer.kernel.shape[3]) >= winograd.MIN_CHANNELS
    )


def input_gradient_layer(config: dict):
    """The ``Conv2D`` subclass ``InputGradientConv2D`` built from a ``Conv2D``'s config."""
    return _layer_classes()["input-gradient"].from_config(config)


def winograd_layer(config: dict):
    """The ``Conv2D`` subclass ``WinogradConv2D`` built from the config of a ``Conv2D`` that fits."""
    return _layer_classes()["winograd"].from_config(config)


_CLASSES = {}


def _layer_classes() -> dict:
    """The layer classes, defined on first use (Keras is imported only then)."""
    if not _CLASSES:
        import keras

        from dreamer import backend

        class InputGradientConv2D(keras.layers.Conv2D):
            """A ``Conv2D`` whose convolution runs as an input gradient (same weights, same result)."""

            def convolution_op(self, inputs, kernel):
                return backend.same_convolution(inputs, kernel)

        class WinogradConv2D(keras.layers.Conv2D):
            """A ``Conv2D`` computed by Winograd's algorithm (same weights, result within ~5e-6)."""

            def convolution_op(self, inputs, kernel):
                return backend.winograd_convolution(inputs, kernel, self.padding)

        _CLASSES.update({"input-gradient": InputGradientConv2D, "winograd": WinogradConv2D})
    return _CLASSES
