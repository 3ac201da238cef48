"""The TensorFlow backend: ``tf.GradientTape`` and ``tf.function`` with free image sizes."""

from __future__ import annotations

import tensorflow as tf

from dreamer.errors import first_line

RUNTIME_ERRORS = (tf.errors.InvalidArgumentError,)
#: A kernel the CPU library cannot build: oneDNN without bfloat16 convolutions on an AVX2-only CPU.
KERNEL_ERRORS = (tf.errors.AbortedError, tf.errors.UnimplementedError)


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
    from dreamer.backend.winograd import gradient_kernel

    with tf.init_scope():  # eager, even while a tf.function traces
        value = tf.convert_to_tensor(kernel).numpy()
        flipped, value = tf.constant(gradient_kernel(value)), tf.constant(value)
    return _same_convolution(tf.convert_to_tensor(x), tf.convert_to_tensor(kernel), value, flipped)


@tf.custom_gradient
def _same_convolution(x, kernel, value, flipped):
    shape = tf.shape(x)
    sizes = tf.stack([shape[0], shape[1], shape[2], tf.shape(value)[3]])
    y = tf.raw_ops.Conv2DBackpropInput(input_sizes=sizes, filter=flipped, out_backprop=x, strides=_ONES, padding="SAME")

    def gradient(dy):
        dx = tf.raw_ops.Conv2DBackpropInput(input_sizes=shape, filter=value, out_backprop=dy, strides=_ONES,
                                            padding="SAME", name="backward_data")
        return dx, _filter_gradient(x, kernel, dy, "SAME"), None, None

    return y, gradient


def _filter_gradient(x, kernel, dy, padding: str):
    """The weights' gradient of a stride-1 convolution, oneDNN's ordinary one (only traced when asked for)."""
    return tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=tf.shape(kernel), out_backprop=dy, strides=_ONES,
                                           padding=padding, name="backward_filter")


def winograd_convolution(x, kernel, padding: str):
    """A stride-1 3x3, 1x7 or 7x1 convolution (``same`` or ``valid``) by Winograd's algorithm, compiled by XLA.

    See ``dreamer.backend.winograd``. Both transforms of the kernel (for the
    convolution and for its input gradient, which is the convolution of
    the output's gradient with the flipped, channel-swapped kernel) are read
    when the step is traced and become constants of the graph, as in
    :func:`same_convolution`; the weights' gradient is oneDNN's ordinary one.
    """
    from dreamer.backend import winograd

    with tf.init_scope():  # eager, even while a tf.function traces
        value = tf.convert_to_tensor(kernel).numpy()
        forward = tf.constant(winograd.transformed_kernel(value))
        backward = tf.constant(winograd.transformed_kernel(winograd.gradient_kernel(value)))
    taps = value.shape[:2]
    # padding that makes each direction a valid convolution (a valid one's input gradient is a full one)
    pads = [t // 2 for t in taps] if padding == "same" else [0, 0]
    back = pads if padding == "same" else [t - 1 for t in taps]

    @tf.custom_gradient
    def convolve(x, kernel):
        def gradient(dy):
            dx = _winograd_valid(dy, backward, *back, *taps)
            return dx, _filter_gradient(x, kernel, dy, padding.upper())

        return _winograd_valid(x, forward, *pads, *taps), gradient

    return convolve(tf.convert_to_tensor(x), tf.convert_to_tensor(kernel))


@tf.function(jit_compile=True, reduce_retracing=True)
def _winograd_valid(x, u, pad_h: int, pad_w: int, taps_h: int, taps_w: int):
    """The valid convolution of ``x`` padded by (``pad_h``, ``pad_w``), given the kernel's transform ``u``.

    One compiled function for every layer, so layers of equal shapes share
    XLA's compilation. XLA fuses the transforms (sums of strided slices)
    into loops over memory; written as separate TensorFlow ops they cost
    more than the multiplications saved (``benchmarks/winograd_trial.py``).
    """
    from dreamer.backend.winograd import BLOCKS, combinations, tiles, transforms

    (in_h, _, out_h), (in_w, _, out_w) = (transforms(BLOCKS[t], t) for t in (taps_h, taps_w))
    block_h, block_w, size_h, size_w = BLOCKS[taps_h], BLOCKS[taps_w], in_h.shape[0], in_w.shape[0]
    x = tf.pad(x, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    rows, cols = tiles(height, taps_h), tiles(width, taps_w)
    x = tf.pad(x, [[0, 0], [0, block_h * rows + size_h - block_h - height],
                   [0, block_w * cols + size_w - block_w - width], [0, 0]])
    spread = []  # the transformed inputs, B^T d B, one tensor per tile position
    for row in weighted_sums(combinations(in_h), [x[:, i:i + block_h * rows:block_h] for i in range(size_h)]):
        spread += weighted_sums(combinations(in_w), [row[:, :, j:j + block_w * cols:block_w] for j in range(size_w)])
    products = tf.matmul(tf.reshape(tf.stack(spread), [size_h * size_w, -1, tf.shape(x)[3]]), u)
    products = tf.reshape(products, [size_h, size_w, -1, rows, cols, tf.shape(u)[2]])
    blocks = [tf.stack(weighted_sums(combinations(out_w), [part[j] for j in range(size_w)]), axis=3)
              for part in weighted_sums(combinations(out_h), [products[i] for i in range(size_h)])]
    y = tf.reshape(tf.stack(blocks, axis=2), [-1, block_h * rows, block_w * cols, tf.shape(u)[2]])
    return y[:, : height - taps_h + 1, : width - taps_w + 1]


def weighted_sums(rows, parts):
    """Each row's sum of ``coefficient * parts[index]`` (rows from ``winograd.combinations``)."""
    out = []
    for row in rows:
        terms = [parts[i] if c == 1 else -parts[i] if c == -1 else parts[i] * c for i, c in row]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        out.append(total)
    return out
