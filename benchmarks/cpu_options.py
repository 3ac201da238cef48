#!/usr/bin/env python
"""Ideas for a faster CPU step on the default model, each timed against what dreamer does.

Run from the repository root (not part of the test suite; a few minutes):

    python benchmarks/cpu_options.py                 # all three
    python benchmarks/cpu_options.py --only whole-step

Times are CPU seconds of this process (``time.process_time``) per step,
medians of interleaved rounds, so that other jobs on a shared machine
disturb them less than wall-clock times. Experiments:

whole-step
    dreamer's untiled step (NumPy roll, the compiled gradient, NumPy
    normalisation, update and clip) against the same step compiled whole in
    one ``tf.function`` (``tf.roll``, gradient, mean absolute value, update,
    clip), at each octave size of a 1024 px dream with EfficientNet-Lite0.
onednn
    the same step in fresh processes with TensorFlow's oneDNN kernels on (the
    default) and off (``TF_ENABLE_ONEDNN_OPTS=0``), float32.
depthwise
    a depthwise convolution's input gradient (what the step computes for
    every depthwise layer) against its forward pass and against the same
    gradient written as a forward convolution with the flipped kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_ms(fn, steps: int) -> float:
    start = time.process_time()
    for _ in range(steps):
        fn()
    return (time.process_time() - start) / steps * 1000


def interleaved(runs: dict, rounds: int, steps: int) -> dict:
    """Median CPU ms per call of each run, the rounds interleaved; and each run's ratio to the first."""
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            times[name].append(cpu_ms(fn, steps))
    first = next(iter(times.values()))
    return {name: {"cpu_ms": statistics.median(v),
                   "vs_first": statistics.median([a / b for a, b in zip(first, v)])} for name, v in times.items()}


def compiled_whole_step(gradient):
    """The untiled step (roll, gradient, roll back, normalise, move, clip) as one ``tf.function``."""
    import tensorflow as tf

    inner = gradient._gradient

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([2], tf.int32),
                                  tf.TensorSpec([], tf.float32)], reduce_retracing=True)
    def step(image, shift, step_size):
        value, grad = inner(tf.roll(image, shift, axis=[0, 1]), tf.constant(1.0))
        grad = tf.roll(grad, -shift, axis=[0, 1])
        scale = tf.reduce_mean(tf.abs(grad))
        return tf.clip_by_value(image + grad * (step_size / 255.0 / tf.maximum(scale, 1e-20)), 0.0, 1.0), value

    return step


def whole_step(args) -> list[dict]:
    import numpy as np

    from dreamer.api import Dreamer
    from dreamer.engine import DreamConfig, ascent_step, octave_shapes

    dreamer = Dreamer("efficientnet-lite0", precision=args.precision)
    gradient = dreamer.gradient
    config = DreamConfig()
    fused = compiled_whole_step(gradient)
    rows = []
    for height, width in octave_shapes(1024, 1024, 4, config.octave_scale, 32)[0]:
        image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
        rng = np.random.default_rng(0)

        def dreamer_step(image=image, rng=rng):
            ascent_step(image, gradient, config, rng)

        def fused_step(image=image, rng=rng):
            shift = rng.integers(-config.jitter, config.jitter + 1, size=2).astype(np.int32)
            fused(image, shift, np.float32(config.step_size))[0].numpy()

        result = interleaved({"dreamer step": dreamer_step, "one tf.function": fused_step}, args.rounds, 4)
        rows.append({"size": height, "precision": gradient.precision, **result})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def onednn_worker(args) -> dict:
    import numpy as np

    from dreamer.api import Dreamer
    from dreamer.engine import DreamConfig, ascent_step

    gradient = Dreamer("efficientnet-lite0", precision="float32").gradient
    image = np.random.default_rng(0).random((512, 512, 3), dtype=np.float32)
    rng, config = np.random.default_rng(0), DreamConfig()
    ascent_step(image, gradient, config, rng)
    return {"cpu_ms": statistics.median(cpu_ms(lambda: ascent_step(image, gradient, config, rng), 4)
                                        for _ in range(args.rounds))}


def onednn(args) -> dict:
    """Fresh processes, alternating oneDNN on and off; the median of each."""
    times = {"on": [], "off": []}
    for _ in range(2):
        for setting in times:
            env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
            if setting == "off":
                env["TF_ENABLE_ONEDNN_OPTS"] = "0"
            out = subprocess.run([sys.executable, __file__, "--worker", "--rounds", str(args.rounds)], env=env,
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            times[setting].append(json.loads(out.stdout.strip().splitlines()[-1])["cpu_ms"])
    result = {k: statistics.median(v) for k, v in times.items()}
    result["off_vs_on"] = result["off"] / result["on"]
    print(json.dumps({"onednn_float32_512px_cpu_ms": result}), flush=True)
    return result


def depthwise(args) -> list[dict]:
    import tensorflow as tf

    @tf.function
    def forward(x, kernel):
        return tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME")

    @tf.function
    def input_gradient(dy, kernel):
        return tf.raw_ops.DepthwiseConv2dNativeBackpropInput(
            input_sizes=tf.shape(dy), filter=kernel, out_backprop=dy, strides=[1, 1, 1, 1], padding="SAME")

    @tf.function
    def flipped_forward(dy, kernel):
        return tf.nn.depthwise_conv2d(dy, tf.reverse(kernel, [0, 1]), [1, 1, 1, 1], "SAME")

    rows = []
    for size, channels, k in ((256, 96, 3), (64, 480, 5)):  # Lite0's early 3x3 and late 5x5 layers at 512 px
        dy = tf.random.normal([1, size, size, channels], seed=1)
        kernel = tf.random.normal([k, k, channels, 1], seed=2)
        runs = {name: (lambda f=f, dy=dy, kernel=kernel: f(dy, kernel).numpy())
                for name, f in (("forward", forward), ("input gradient", input_gradient),
                                ("as flipped forward", flipped_forward))}
        rows.append({"shape": f"{size}x{size}x{channels}, {k}x{k}", **interleaved(runs, args.rounds, 3)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["whole-step", "onednn", "depthwise"])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--out", default=None, help="a JSON file for the results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.worker:
        print(json.dumps(onednn_worker(args)))
        return
    experiments = {"whole-step": whole_step, "onednn": onednn, "depthwise": depthwise}
    chosen = [args.only] if args.only else list(experiments)
    results = {name: experiments[name](args) for name in chosen}
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
