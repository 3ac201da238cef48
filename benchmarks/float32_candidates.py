#!/usr/bin/env python
"""Issue 24's candidates for a faster float32 step, each timed against what dreamer does now.

Run from the repository root (not part of the test suite; minutes each):

    python benchmarks/float32_candidates.py                  # all
    python benchmarks/float32_candidates.py --only octave

Times are CPU ms of this process (``time.process_time``) per call, medians
of interleaved rounds (``cpu_options.interleaved``); "vs_first" is the
median per-round ratio of the first run's time to this one's (above 1:
faster than the first). The setup is ``profile_step.py``'s: random-weight
InceptionV3, ``mixed3`` + ``mixed5``, mean loss, 375x500, float32.

frozen
    dreamer's compiled gradient against the same function with its
    variables turned into constants (``convert_variables_to_constants_v2``:
    constant filters let oneDNN cache their reordered copies).
threads
    fresh processes with TensorFlow's thread pools set (intra-op, inter-op)
    and with oneDNN's switches ``TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD`` and
    ``TF_ONEDNN_ASSUME_FROZEN_WEIGHTS``: the tutorial loop's step and
    dreamer's gradient in each.
conv
    per InceptionV3 convolution shape: forward, backward data
    (``Conv2DBackpropInput``), the backward data written as a forward
    convolution with the flipped, transposed kernel; sibling 1x1
    convolutions on one input merged into one (forward and input gradient);
    a 1x1 convolution as a matrix product.
octave
    the 10 steps of an octave in one ``tf.function`` (a ``tf.while_loop``
    with ``tf.roll`` jitter, the gradient, mean-absolute normalisation,
    update and clip inside, the shifts drawn beforehand from the same
    generator) against dreamer's Python loop of steps and the tutorial.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
LAYERS = {"mixed3": 1.0, "mixed5": 1.0}
SHAPE = (375, 500)


def setup():
    """(tutorial, kept Dreamer, image, frame) on the random InceptionV3."""
    import keras
    import numpy as np
    from bench import TutorialDeepDream

    from dreamer.api import Dreamer

    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionV3(include_top=False, weights=None)
    image = np.random.default_rng(0).random((*SHAPE, 3), dtype=np.float32)
    dreamer = Dreamer(model, LAYERS, loss="mean", preprocess="tf", precision="float32")
    frame = np.array([0, 0, *SHAPE, *SHAPE], np.float32)
    return TutorialDeepDream(model, tuple(LAYERS)), dreamer, image, frame


def frozen(args) -> dict:
    import numpy as np
    import tensorflow as tf
    from cpu_options import interleaved
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    tutorial, dreamer, image, frame = setup()
    compiled = dreamer.gradient._gradient
    constant = convert_variables_to_constants_v2(compiled.get_concrete_function())
    weight = np.float32(1.0)
    args_tf = (tf.constant(image), tf.constant(weight), tf.constant(frame))
    same = float(np.abs(compiled(*args_tf)[1].numpy() - constant(*args_tf)[1].numpy()).max())
    runs = {"tutorial step": lambda: tutorial.steps(image, 1),
            "dreamer gradient": lambda: compiled(image, weight, frame)[1].numpy(),
            "gradient with constant weights": lambda: constant(*args_tf)[1].numpy()}
    return {"max_abs_difference": same, **interleaved(runs, args.rounds, 3)}


def threads_worker(args) -> dict:
    import numpy as np
    import tensorflow as tf
    from cpu_options import interleaved

    if args.threads:
        intra, inter = (int(v) for v in args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    tutorial, dreamer, image, frame = setup()
    compiled = dreamer.gradient._gradient
    runs = {"tutorial step": lambda: tutorial.steps(image, 1),
            "dreamer gradient": lambda: compiled(image, np.float32(1.0), frame)[1].numpy()}
    return interleaved(runs, args.rounds, 3)


def threads(args) -> dict:
    """Each setting in its own fresh process, one after the other."""
    settings = {"default (2, 2)": ([], {}), "threads 2, 1": (["--threads", "2,1"], {}),
                "threads 1, 1": (["--threads", "1,1"], {}), "threads 1, 2": (["--threads", "1,2"], {}),
                "TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD=1": ([], {"TF_ONEDNN_THREADPOOL_USE_CALLER_THREAD": "1"}),
                "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1": ([], {"TF_ONEDNN_ASSUME_FROZEN_WEIGHTS": "1"})}
    out = {}
    for name, (flags, env) in settings.items():
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **env}
        proc = subprocess.run([sys.executable, __file__, "--worker", "--rounds", str(args.rounds), *flags],
                              env=environment, capture_output=True, text=True, check=True, cwd=ROOT)
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(name, json.dumps(out[name]), flush=True)
    return out


def conv_runs(x, kernel, dy):
    """Forward, backward data, and backward data as a forward convolution with the flipped kernel."""
    import tensorflow as tf

    flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
    sizes = tf.shape(x)
    forward = tf.function(lambda a, k: tf.nn.conv2d(a, k, 1, "SAME"))
    backward = tf.function(lambda d, k: tf.raw_ops.Conv2DBackpropInput(
        input_sizes=sizes, filter=k, out_backprop=d, strides=[1, 1, 1, 1], padding="SAME"))
    as_forward = tf.function(lambda d, k: tf.nn.conv2d(d, k, 1, "SAME"))
    return {"forward": lambda: forward(x, kernel).numpy(), "backward data": lambda: backward(dy, kernel).numpy(),
            "as flipped forward": lambda: as_forward(dy, flipped).numpy()}


def sibling_runs(x, kernels):
    """Sibling 1x1 convolutions + ReLU, forward and input gradient: separately, merged, and as a matrix product."""
    import tensorflow as tf

    def gradient(outputs_of):
        @tf.function
        def run(a):
            with tf.GradientTape() as tape:
                tape.watch(a)
                loss = tf.add_n([tf.reduce_mean(o) for o in outputs_of(a)])
            return tape.gradient(loss, a)
        return run

    separate = gradient(lambda a: [tf.nn.relu(tf.nn.conv2d(a, k, 1, "SAME")) for k in kernels])
    merged = gradient(lambda a: tf.split(tf.nn.relu(tf.nn.conv2d(a, tf.concat(kernels, 3), 1, "SAME")),
                                         [k.shape[3] for k in kernels], 3))
    matrix = tf.concat(kernels, 3)[0, 0]
    as_matmul = gradient(lambda a: [tf.nn.relu(tf.matmul(tf.reshape(a, [-1, a.shape[3]]), matrix))])
    return {"separate": lambda: separate(x).numpy(), "merged": lambda: merged(x).numpy(),
            "merged, as a matrix product": lambda: as_matmul(x).numpy()}


def conv(args) -> list[dict]:
    import tensorflow as tf
    from cpu_options import interleaved

    rows = []
    for h, w, cin, cout, k in ((44, 60, 288, 64, 1), (44, 60, 48, 64, 5), (44, 60, 96, 96, 3),
                               (89, 120, 80, 192, 3), (184, 246, 32, 64, 3), (22, 29, 768, 192, 1)):
        x = tf.random.normal([1, h, w, cin], seed=1)
        kernel = tf.random.normal([k, k, cin, cout], seed=2)
        dy = tf.random.normal([1, h, w, cout], seed=3)
        gflop = 2 * h * w * cin * cout * k * k / 1e9
        rows.append({"shape": f"{h}x{w}, {cin}->{cout}, {k}x{k}", "gflop": gflop,
                     **interleaved(conv_runs(x, kernel, dy), args.rounds, 5)})
        print(json.dumps(rows[-1]), flush=True)
    for h, w, cin, couts in ((44, 60, 288, (64, 48, 64)), (22, 29, 768, (192, 128, 128, 192))):
        x = tf.random.normal([1, h, w, cin], seed=1)
        kernels = [tf.random.normal([1, 1, cin, c], seed=2 + i) for i, c in enumerate(couts)]
        rows.append({"shape": f"{h}x{w}, {cin}->{'+'.join(map(str, couts))}, 1x1 siblings",
                     **interleaved(sibling_runs(x, kernels), args.rounds, 5)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def compiled_octave(gradient, steps_signature):
    """The steps of an octave in one tf.function: roll, gradient, roll back, normalise, update, clip."""
    import tensorflow as tf

    inner = gradient._gradient

    @tf.function(input_signature=steps_signature)
    def octave(image, shifts, step_size):
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        frame = tf.stack([0.0, 0.0, size[0], size[1], size[0], size[1]])

        def body(i, current):
            _, grad = inner(tf.roll(current, shifts[i], [0, 1]), tf.constant(1.0), frame)
            grad = tf.roll(grad, -shifts[i], [0, 1])
            scale = tf.maximum(tf.reduce_mean(tf.abs(grad)), 1e-20)
            return i + 1, tf.clip_by_value(current + grad * (step_size / 255.0 / scale), 0.0, 1.0)

        return tf.while_loop(lambda i, _: i < tf.shape(shifts)[0], body, [tf.constant(0), image])[1]

    return octave


def octave(args) -> dict:
    import numpy as np
    import tensorflow as tf
    from cpu_options import interleaved

    from dreamer.engine import DreamConfig

    tutorial, dreamer, image, _frame = setup()
    config = DreamConfig(iterations=10, octaves=1, seed=0)
    signature = [tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([None, 2], tf.int32),
                 tf.TensorSpec([], tf.float32)]
    fused = compiled_octave(dreamer.gradient, signature)

    def one_function():
        rng = np.random.default_rng(config.seed)  # the shifts ascent_step would draw, in its order
        shifts = rng.integers(-config.jitter, config.jitter + 1, size=(config.iterations, 2)).astype(np.int32)
        return fused(image, shifts, np.float32(config.step_size)).numpy()

    difference = float(np.abs(dreamer.ascend(image, config) - one_function()).max())
    runs = {"tutorial, 10 steps": lambda: tutorial.steps(image, 10),
            "dreamer, 10 steps (Python loop)": lambda: dreamer.ascend(image, config),
            "one tf.function, 10 steps": one_function}
    return {"max_abs_pixel_difference": difference, **interleaved(runs, args.rounds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["frozen", "threads", "conv", "octave"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=None, help="a JSON file for the results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.worker:
        print(json.dumps(threads_worker(args)))
        return
    experiments = {"frozen": frozen, "threads": threads, "conv": conv, "octave": octave}
    results = {"load_before": os.getloadavg()}
    for name in [args.only] if args.only else list(experiments):
        results[name] = experiments[name](args)
        print(name, json.dumps(results[name]), flush=True)
    results["load_after"] = os.getloadavg()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
