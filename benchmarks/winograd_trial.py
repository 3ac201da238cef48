#!/usr/bin/env python
"""Would Winograd convolutions built from TensorFlow ops make a float32 step cheaper? (issue 24)

Run from the repository root (not part of the test suite; about two minutes):

    python benchmarks/winograd_trial.py
    python benchmarks/winograd_trial.py --max-isa AVX2

80-85% of a float32 step is convolutions that already run at the CPU's
matrix-product rate (``docs/performance-float32.md``), so a faster step
needs fewer FLOPs. Winograd's minimal filtering F(m x m, 3x3) computes an
m x m block of a 3x3 convolution's output with (m+2)^2 multiplies per pair
of channels instead of 9 m^2 (2.25x fewer for m=2, 4x for m=4), at the
price of transforming every input tile and every output tile. Neither
TensorFlow nor Keras offers it on CPUs (TensorFlow asks oneDNN for direct
convolutions), so the only way in is to write it from TensorFlow ops.

For each stride-1 3x3, 1x7 and 7x1 convolution shape of InceptionV3 up to ``mixed5`` at
375x500 (the issue's setup), this times what a step does with it (the
forward convolution and its input gradient, both 3x3 convolutions: the
input gradient is the convolution of the output gradient with the flipped,
channel-swapped kernel) in five ways:

direct
    oneDNN's ``Conv2D`` and ``Conv2DBackpropInput``, what dreamer runs on
    CPUs with AVX-512.
same as input gradient
    what dreamer runs on CPUs without AVX-512
    (``dreamer.models.convolution``): a same convolution's forward pass as
    the input gradient of the flipped, channel-swapped kernel (valid
    convolutions stay direct).
F(2x2,3x3) ops
    Winograd from TensorFlow ops: 4x4 tiles by ``extract_patches``, the
    input and output transforms as matrix products with the Kronecker
    products of the transform matrices, one batched matrix product of the
    16 transformed channels.
F(2x2,3x3) XLA
    Winograd with the transforms written as sums of strided slices, the
    whole function compiled by XLA (``jit_compile=True``), which fuses the
    transforms into loops over memory.
dreamer's Winograd, XLA
    F(4x4, 3x3) for a 3x3 kernel (6x6 tiles), F(2, 7) along a 1x7 or 7x1
    kernel: ``dreamer.backend.tensorflow_impl.winograd_convolution``, what a
    kept ``Dreamer`` moves to on CPUs without AVX-512 for such convolutions
    with 64 channels or more (the F(2x2) ways are for 3x3 kernels only).

The kernels' transforms are constants (done once, as a kept ``Dreamer``
would). Times are wall ms per call (forward plus input gradient), medians
of interleaved rounds; the error is the largest difference to oneDNN's
result relative to its largest value. The last row weights each shape by
how often the step runs it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (what, input height, input width, in channels, out channels, padding, how many in a step, kernel size)
SHAPES = [
    ("stem conv 2", 187, 249, 32, 32, "VALID", 1, (3, 3)),
    ("stem conv 3", 185, 247, 32, 64, "SAME", 1, (3, 3)),
    ("stem conv 5", 92, 123, 80, 192, "VALID", 1, (3, 3)),
    ("mixed0-3 3x3", 44, 60, 64, 96, "SAME", 4, (3, 3)),
    ("mixed0-2 3x3 dbl", 44, 60, 96, 96, "SAME", 3, (3, 3)),
    ("mixed4 1x7", 21, 29, 128, 128, "SAME", 2, (1, 7)),
    ("mixed4 7x1", 21, 29, 128, 128, "SAME", 2, (7, 1)),
    ("mixed4 1x7 out", 21, 29, 128, 192, "SAME", 1, (1, 7)),
    ("mixed4 7x1 out", 21, 29, 128, 192, "SAME", 1, (7, 1)),
    ("mixed5 1x7", 21, 29, 160, 160, "SAME", 2, (1, 7)),
    ("mixed5 7x1", 21, 29, 160, 160, "SAME", 2, (7, 1)),
    ("mixed5 1x7 out", 21, 29, 160, 192, "SAME", 1, (1, 7)),
    ("mixed5 7x1 out", 21, 29, 160, 192, "SAME", 1, (7, 1)),
]
#: Other networks' 3x3 convolutions at 224x224 (VGG16's, ResNet50's), for the rule (``--others``); not in the step.
OTHERS = [
    ("VGG16 block1", 224, 224, 64, 64, "SAME", 0, (3, 3)),
    ("VGG16 block2", 112, 112, 128, 128, "SAME", 0, (3, 3)),
    ("VGG16 block3", 56, 56, 256, 256, "SAME", 0, (3, 3)),
    ("VGG16 block4", 28, 28, 512, 512, "SAME", 0, (3, 3)),
    ("ResNet50 conv2", 56, 56, 64, 64, "SAME", 0, (3, 3)),
    ("ResNet50 conv5", 7, 7, 512, 512, "SAME", 0, (3, 3)),
    ("small 48->64", 44, 60, 48, 64, "SAME", 0, (3, 3)),
]


def transform_matrices():
    """(B^T, G, A^T) of Winograd's F(2, 3); F(4, 3)'s are dreamer's (``dreamer.backend.winograd``)."""
    import numpy as np

    bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    g = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
    at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    return (np.array(bt, np.float32), np.array(g, np.float64), np.array(at, np.float32))


def transformed_kernel(kernel):
    """G k G^T per channel pair for F(2x2, 3x3): [16, in, out] float32."""
    import numpy as np

    _, g, _ = transform_matrices()
    u = np.einsum("ai,ijco,bj->abco", g, kernel.astype(np.float64), g)
    return u.reshape(16, kernel.shape[2], kernel.shape[3]).astype(np.float32)


def _combinations(parts, matrix):
    """Each row of ``matrix`` applied to the tensors ``parts`` as a sum (zeros skipped), as dreamer does."""
    from dreamer.backend.tensorflow_impl import weighted_sums
    from dreamer.backend.winograd import combinations

    return weighted_sums(combinations(matrix), parts)


def _tiles(x, m: int = 2):
    """``x`` padded so its valid 3x3 output is whole m x m blocks; (x, rows, cols, out h, out w).

    Sizes come from ``tf.shape``: a step is traced for any image size, and
    XLA sees them as constants when it compiles for one.
    """
    import tensorflow as tf

    height, width = tf.shape(x)[1], tf.shape(x)[2]
    rows, cols = (height - 2 + m - 1) // m, (width - 2 + m - 1) // m
    x = tf.pad(x, [[0, 0], [0, m * rows + 2 - height], [0, m * cols + 2 - width], [0, 0]])
    return x, rows, cols, height - 2, width - 2


def winograd_ops(x, u, out_channels: int):
    """A valid 3x3 convolution, F(2x2, 3x3), transforms as matrix products (for ``tf.function``)."""
    import numpy as np
    import tensorflow as tf

    bt, _, at = transform_matrices()
    x, rows, cols, out_h, out_w = _tiles(x)
    channels = x.shape[3]
    patches = tf.image.extract_patches(x, [1, 4, 4, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    patches = tf.transpose(tf.reshape(patches, [-1, 16, channels]), [1, 0, 2])
    v = tf.reshape(tf.matmul(np.kron(bt, bt), tf.reshape(patches, [16, -1])), [16, -1, channels])
    y = tf.matmul(np.kron(at, at), tf.reshape(tf.matmul(v, u), [16, -1]))
    y = tf.transpose(tf.reshape(y, [2, 2, -1, rows, cols, out_channels]), [2, 3, 0, 4, 1, 5])
    return tf.reshape(y, [-1, 2 * rows, 2 * cols, out_channels])[:, :out_h, :out_w]


def winograd_slices(x, u, out_channels: int):
    """A valid 3x3 convolution, F(2x2, 3x3), transforms as sums of strided slices (for XLA)."""
    import tensorflow as tf

    bt, _, at = transform_matrices()
    m, size = 2, 4
    x, rows, cols, out_h, out_w = _tiles(x)
    v = []
    for row in _combinations([x[:, i:i + m * rows:m] for i in range(size)], bt):
        v += _combinations([row[:, :, j:j + m * cols:m] for j in range(size)], bt)
    v = tf.reshape(tf.stack(v), [size * size, -1, x.shape[3]])
    product = tf.reshape(tf.matmul(v, u), [size, size, -1, rows, cols, out_channels])
    blocks = [tf.stack(_combinations([r[j] for j in range(size)], at), axis=3)
              for r in _combinations([product[i] for i in range(size)], at)]
    return tf.reshape(tf.stack(blocks, axis=2), [-1, m * rows, m * cols, out_channels])[:, :out_h, :out_w]


def shape_runs(shape, rng) -> dict:
    """name -> a compiled function of the input returning (output, input gradient of ``output``)."""
    import numpy as np
    import tensorflow as tf

    from dreamer.backend.tensorflow_impl import winograd_convolution
    from dreamer.backend.winograd import gradient_kernel

    _, height, width, channels, out_channels, padding, _, size = shape
    taps = size[0] * size[1]
    kernel = (rng.standard_normal((*size, channels, out_channels)) / np.sqrt(taps * channels)).astype(np.float32)
    flipped = gradient_kernel(kernel)
    margin = 1 if padding == "SAME" else 2  # the input gradient of a valid convolution is a full one

    @tf.function
    def direct(x):
        y = tf.nn.conv2d(x, kernel, 1, padding)
        return y, tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=kernel, out_backprop=y,
                                                 strides=[1, 1, 1, 1], padding=padding)

    @tf.function
    def as_input_gradient(x):  # dreamer's same convolutions on CPUs without AVX-512 (valid ones stay direct)
        if padding == "VALID":
            return direct(x)
        y = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.concat([tf.shape(x)[:3], [out_channels]], 0),
                                           filter=flipped, out_backprop=x, strides=[1, 1, 1, 1], padding=padding)
        return y, tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(x), filter=kernel, out_backprop=y,
                                                 strides=[1, 1, 1, 1], padding=padding)

    def winograd(convolve):
        u, uf = (tf.constant(transformed_kernel(k)) for k in (kernel, flipped))

        def both(x):
            same = [[0, 0], [1, 1], [1, 1], [0, 0]]
            y = convolve(tf.pad(x, same) if padding == "SAME" else x, u, out_channels)
            edge = [[0, 0], [margin, margin], [margin, margin], [0, 0]]
            return y, convolve(tf.pad(y, edge), uf, channels)
        return both

    @tf.function
    def dreamers(x):  # F(4x4, 3x3) as dreamer runs it: its custom gradient gives the input gradient
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = winograd_convolution(x, kernel, padding.lower())
        return y, tape.gradient(y, x, output_gradients=y)

    runs = {"direct": direct, "same as input gradient": as_input_gradient}
    if size == (3, 3):
        runs.update({"F(2x2,3x3) ops": tf.function(winograd(winograd_ops)),
                     "F(2x2,3x3) XLA": tf.function(winograd(winograd_slices), jit_compile=True)})
    return {**runs, "dreamer's Winograd, XLA": dreamers}


def measure(shape, rounds: int, rng) -> dict:
    """Wall ms (median of interleaved rounds) and the largest relative error of each way for one shape."""
    import numpy as np

    x = rng.standard_normal((1, shape[1], shape[2], shape[3])).astype(np.float32)
    runs = shape_runs(shape, rng)
    reference = [t.numpy() for t in runs["direct"](x)]
    out = {}
    for name, fn in runs.items():
        got = [t.numpy() for t in fn(x)]
        error = max(float(np.abs(a - b).max() / np.abs(a).max()) for a, b in zip(reference, got))
        out[name] = {"ms": [], "error": error}
    for _ in range(rounds):
        for name, fn in runs.items():
            start = time.perf_counter()
            _ = [t.numpy() for t in fn(x)]
            out[name]["ms"].append((time.perf_counter() - start) * 1000)
    for row in out.values():
        row["median_ms"] = statistics.median(row["ms"])
        row["speed_vs_direct"] = statistics.median([d / w for d, w in zip(out["direct"]["ms"], row["ms"])])
    return out


def table(results: dict) -> str:
    names = list(dict.fromkeys(n for row in results["shapes"].values() for n in row["ways"]))
    lines = ["| shape (in -> out, input size) | x per step | " + " | ".join(names) + " |",
             "|---" * (2 + len(names)) + "|"]
    for what, row in results["shapes"].items():
        ways = row["ways"]
        cells = [f"{ways[n]['median_ms']:.2f} ms ({ways[n]['speed_vs_direct']:.2f}x)" if n in ways else "-"
                 for n in names]
        lines.append(f"| {what} | {row['count']} | " + " | ".join(cells) + " |")
    totals = results["step_total_ms"]
    cells = [f"**{totals[n]['ms']:.1f} ms ({totals[n]['direct_ms'] / totals[n]['ms']:.2f}x)**" for n in names]
    lines.append("| **the step's convolutions with 64+ channels, weighted** | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def totals(shapes: dict) -> dict:
    """Per way: ms of the step's convolutions dreamer computes by Winograd that the way applies to, weighted
    by their count, and direct's ms for them."""
    out = {}
    for row in shapes.values():
        if not row.get("winograd", True):
            continue
        for name, way in row["ways"].items():
            total = out.setdefault(name, {"ms": 0.0, "direct_ms": 0.0})
            total["ms"] += row["count"] * way["median_ms"]
            total["direct_ms"] += row["count"] * row["ways"]["direct"]["median_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds per shape")
    parser.add_argument("--max-isa", default=None, choices=["AVX2"], help="cap oneDNN and XLA at this instruction set")
    parser.add_argument("--others", action="store_true", help="also other networks' shapes (not in the step)")
    parser.add_argument("--out", default=None, help="JSON file [default: benchmarks/results/<date>_winograd.json]")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench import capped_environment, machine_info, write_results

    from dreamer.backend.winograd import MIN_CHANNELS

    os.environ.update(capped_environment(os.environ, args.max_isa))  # before TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np

    rng = np.random.default_rng(0)
    results = {"date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
               "command": "python benchmarks/winograd_trial.py " + " ".join(sys.argv[1:]),
               "machine": machine_info(), "max_isa": args.max_isa, "load_before": os.getloadavg(), "shapes": {}}
    for shape in SHAPES + (OTHERS if args.others else []):
        what, height, width, channels, out_channels, padding, count, size = shape
        label = f"{what}: {size[0]}x{size[1]} {channels}->{out_channels} {padding.lower()}, {height}x{width}"
        taken = min(channels, out_channels) >= MIN_CHANNELS  # what a kept Dreamer computes by Winograd
        results["shapes"][label] = {"count": count, "winograd": taken, "ways": measure(shape, args.rounds, rng)}
        print(label, {n: round(w["median_ms"], 2) for n, w in results["shapes"][label]["ways"].items()}, flush=True)
    results["step_total_ms"] = totals(results["shapes"])
    results["load_after"] = os.getloadavg()
    results["table"] = table(results)
    print(results["table"])
    write_results(results, args.out, "winograd")


if __name__ == "__main__":
    main()
