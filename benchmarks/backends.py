#!/usr/bin/env python
"""dreamer on each Keras backend: a whole default dream of a 1080p photo, and steps/s against the tutorial loop.

Run from the repository root (not part of the test suite), with the backends installed
(``pip install -e ".[jax,torch]"``):

    python benchmarks/backends.py                          # tensorflow, jax, torch
    python benchmarks/backends.py --backends jax --rounds 2 --dream-size 960x540   # a quick look

Each backend runs in its own process (Keras picks its backend once, at
import). In that process, on the default model (EfficientNet-Lite0,
``block5c_add``, float32):

steps
    dreamer's step (``dreamer.engine.ascent_step`` with the default
    DreamConfig: jitter, the compiled gradient of the rewritten network,
    normalisation, update, clip) against the tutorial loop written for the
    same backend (the TensorFlow DeepDream tutorial's loop: the gradient of
    the mean activation divided by its standard deviation + 1e-8, added
    times a step size, clipped; TensorFlow: ``tf.function`` running a
    ``tf.range`` loop; JAX: ``jax.jit`` of a ``lax.fori_loop`` over a
    stateless call; PyTorch: an eager autograd loop), on the same
    ``--step-size`` square image, the un-rewritten Keras feature model for
    the tutorial. Both are warmed up; then ``--rounds`` interleaved rounds of
    ``--steps`` steps each; the medians of each's seconds per step are
    reported, wall-clock and the process's CPU time (all its threads: the
    steadier measure on a shared machine).
dream
    ``Dreamer().dream(photo, DreamConfig())`` (4 octaves x 10 steps, tiles
    of 512 px at the largest octaves) on ``samples/rocket.jpg`` resized to
    ``--dream-size``: wall seconds, the model already loaded and its gradient
    compiled at one size (under JAX each new octave or tile shape still
    compiles in the dream: that is included, as a user meets it).

Writes JSON to ``benchmarks/results/`` (``--out`` changes the file).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

LAYER = "block5c_add"
STEP_SIZE = 0.01


def tutorial_loop(model, preprocess):
    """The tutorial's loop for the running backend: ``run(image, steps) -> image`` (NumPy in, backend out)."""
    import keras

    name = keras.backend.backend()
    if name == "tensorflow":
        return _tutorial_tensorflow(model, preprocess)
    if name == "jax":
        return _tutorial_jax(model, preprocess)
    return _tutorial_torch(model, preprocess)


def _tutorial_tensorflow(model, preprocess):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([], tf.int32)])
    def run(image, steps):
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(image)
                loss = tf.reduce_mean(model(preprocess(image[None]), training=False)[LAYER])
            grad = tape.gradient(loss, image)
            grad /= tf.math.reduce_std(grad) + 1e-8
            image = tf.clip_by_value(image + grad * STEP_SIZE, 0.0, 1.0)
        return image

    return lambda image, steps: run(tf.constant(image), tf.constant(steps))


def _tutorial_jax(model, preprocess):
    import jax
    import jax.numpy as jnp

    def loss(image, trainable, fixed):
        out, _ = model.stateless_call(trainable, fixed, preprocess(image[None]), training=False)
        return jnp.mean(out[LAYER])

    @jax.jit
    def run(image, steps, trainable, fixed):
        def body(_, image):
            grad = jax.grad(loss)(image, trainable, fixed)
            grad = grad / (jnp.std(grad) + 1e-8)
            return jnp.clip(image + grad * STEP_SIZE, 0.0, 1.0)

        return jax.lax.fori_loop(0, steps, body, image)

    def call(image, steps):
        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]
        return run(jnp.asarray(image), steps, trainable, fixed).block_until_ready()

    return call


def _tutorial_torch(model, preprocess):
    import torch

    def run(image, steps):
        image = torch.as_tensor(image)
        for _ in range(steps):
            image = image.detach().requires_grad_(True)
            loss = torch.mean(model(preprocess(image[None]), training=False)[LAYER])
            (grad,) = torch.autograd.grad(loss, image)
            with torch.no_grad():
                grad = grad / (torch.std(grad) + 1e-8)
                image = torch.clamp(image + grad * STEP_SIZE, 0.0, 1.0)
        return image

    return run


def photo(size: tuple[int, int]) -> np.ndarray:
    from dreamer.images import load_image, resize

    return resize(load_image(ROOT / "samples" / "rocket.jpg").rgb, size)


def measure(args) -> dict:
    """In this process (one backend): the steps section and the dream section."""
    import keras

    from dreamer.api import Dreamer
    from dreamer.engine import DreamConfig, ascent_step

    started = time.perf_counter()
    dreamer = Dreamer(layers=LAYER, precision="float32")
    gradient = dreamer.gradient
    image = photo((args.step_size, args.step_size))
    config = DreamConfig()
    rng = np.random.default_rng(0)
    ascent_step(image, gradient, config, rng)
    ready = time.perf_counter() - started
    feature_model = dreamer.adapter.feature_model([LAYER])
    tutorial = tutorial_loop(feature_model, dreamer.adapter.preprocess)
    tutorial(image, 1)
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    for _ in range(args.rounds):
        start, cpu = time.perf_counter(), time.process_time()
        current = image
        for _ in range(args.steps):
            current, _ = ascent_step(current, gradient, config, rng)
        ours.append((time.perf_counter() - start) / args.steps)
        ours_cpu.append((time.process_time() - cpu) / args.steps)
        start, cpu = time.perf_counter(), time.process_time()
        keras.ops.convert_to_numpy(tutorial(image, args.steps))
        theirs.append((time.perf_counter() - start) / args.steps)
        theirs_cpu.append((time.process_time() - cpu) / args.steps)
    width, height = args.dream_width, args.dream_height
    big = photo((height, width))
    start, cpu = time.perf_counter(), time.process_time()
    dreamer.dream(big, config)
    dream_s, dream_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    dreamer_step, tutorial_step = statistics.median(ours), statistics.median(theirs)
    cpu_ratio = statistics.median(theirs_cpu) / statistics.median(ours_cpu)
    return {
        "dreamer_cpu_s_per_step": round(statistics.median(ours_cpu), 4),
        "tutorial_cpu_s_per_step": round(statistics.median(theirs_cpu), 4),
        "speed_vs_tutorial_cpu": round(cpu_ratio, 3), "dream_cpu_s": round(dream_cpu_s, 1),
        "backend": keras.backend.backend(), "load_and_first_step_s": round(ready, 2),
        "step_size_px": args.step_size, "dreamer_s_per_step": round(dreamer_step, 4),
        "tutorial_s_per_step": round(tutorial_step, 4), "dreamer_steps_per_s": round(1 / dreamer_step, 3),
        "tutorial_steps_per_s": round(1 / tutorial_step, 3),
        "speed_vs_tutorial": round(tutorial_step / dreamer_step, 3),
        "rounds_dreamer_s": [round(t, 4) for t in ours], "rounds_tutorial_s": [round(t, 4) for t in theirs],
        "dream_size": f"{width}x{height}", "dream_s": round(dream_s, 1),
    }


def versions() -> dict:
    from importlib import metadata

    found = {}
    for package in ("tensorflow", "keras", "jax", "jaxlib", "torch"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--step-size", type=int, default=512, help="side of the square image of the steps section")
    parser.add_argument("--dream-size", default="1920x1080")
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.dream_width, args.dream_height = (int(v) for v in args.dream_size.split("x"))
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(args)))
        return
    results = []
    for name in args.backends.split(","):
        command = [sys.executable, __file__, "--child", *[a for a in (argv or sys.argv[1:]) if a]]
        done = subprocess.run(command, env={**os.environ, "KERAS_BACKEND": name}, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result))
    report = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "load_average": os.getloadavg(), "versions": versions(), "gpu": "none: CPU only", "results": results}
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"{report['date']}_backends.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
