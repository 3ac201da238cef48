#!/usr/bin/env python
"""dreamer's benchmark: speed against the TensorFlow DeepDream tutorial, memory, start-up, batch.

Run from the repository root (not part of the test suite):

    python benchmarks/bench.py                    # everything, InceptionV3, 512 px, 4 octaves x 10 steps
    python benchmarks/bench.py --model efficientnet-lite0 --sections speed,memory
    python benchmarks/bench.py --size 1024 --octaves 4 --steps 10 --precision bfloat16 --sections speed
    python benchmarks/bench.py --quick            # a smoke run of every section (minutes less)

It prints tables and writes everything as JSON to ``benchmarks/results/``
(``--out`` changes the file). Sections:

speed
    In ONE process, on the same image and the same model object: the
    baseline (the TensorFlow DeepDream tutorial's approach, written from its
    published description: a ``tf.Module`` whose ``tf.function`` with an
    input signature runs a ``tf.range`` loop of steps; the gradient of the
    summed mean activations of InceptionV3's ``mixed3`` and ``mixed5``
    divided by its standard deviation + 1e-8, ``img += grad * step_size``,
    clipped to [-1, 1], on a random-weight
    ``keras.applications.InceptionV3(include_top=False, weights=None)`` fed
    -1..1 pixels), and dreamer on that very ``keras.Model``
    (``Dreamer(model, layers={"mixed3": 1, "mixed5": 1}, loss="mean",
    preprocess="tf", precision=...)``, timed through the engine's
    ``ascent_step`` with the default DreamConfig: jitter, normalisation,
    update and clip included). Everything is warmed up first; the rounds are
    interleaved (baseline, then each dreamer variant, ``--repeats`` times) so
    that load from other processes hits them alike; the ratio reported is
    the median over rounds of baseline ms/step / dreamer ms/step. The same
    timing is repeated at every octave's size (fewer rounds).
    FLOPs per step: the TensorFlow profiler's count of the forward graph at
    this size, plus its convolutions' count once more for the input gradient
    (a convolution's input gradient is a transposed convolution with the same
    multiply-adds; no weight gradients are computed). Images per minute: a
    whole dream (octaves x steps), the median of ``--dream-repeats``
    interleaved rounds after a warm-up dream; the baseline's dream runs its
    loop at the same octave sizes.
memory
    Each configuration in a fresh subprocess: peak resident memory (VmHWM
    from /proc/self/status, i.e. ru_maxrss) of a whole dream, and the
    resident memory after loading, before dreaming. Sizes ``--memory-sizes``
    at ``--octaves`` x ``--steps`` (the defaults, 4 x 10); the largest size
    once more at 1 step per octave, for how much memory grows with steps;
    and the ``dream`` command on a PNG of the largest size (load, dream,
    save), its peak taken from the finished child's ru_maxrss.
startup
    ``python -m dreamer.cli --help`` wall time (the ``dream`` command), model
    load, the first step (rewrite, trace, first call) and the first call at a
    new size (what a new octave or tile size costs).
batch
    One ``dream`` command on 10 images of 512 px (default settings): wall
    time, start-up included, as images per minute.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = ROOT / "samples" / "astronaut.png"
MODELS = {
    # name: (layers, loss, preprocess)
    "inceptionv3": ({"mixed3": 1.0, "mixed5": 1.0}, "mean", "tf"),
    "efficientnet-lite0": ({"block5c_add": 1.0}, "l2", None),
}
BASELINE_STEP_SIZE = 0.01


# ---------------------------------------------------------------- machine and helpers


def machine_info() -> dict:
    import keras
    import tensorflow as tf

    from dreamer.precision import cpu_flags, detect_precision

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "bf16_flags": sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile"}),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "auto_precision": detect_precision("auto"),
        "peak": cpu_peak(2, None),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
    }


def write_results(results: dict, out: str | None, name: str) -> Path:
    """Write ``results`` as JSON to ``out``, or to ``benchmarks/results/<UTC date>_<name>.json``; print where."""
    path = Path(out) if out else RESULTS / f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}_{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {path}")
    return path


def capped_environment(environ: dict, max_isa: str | None) -> dict:
    """``environ`` with oneDNN's and XLA's instruction sets capped at ``max_isa`` (an AVX2 CPU's kernels).

    Set before TensorFlow loads: ``ONEDNN_MAX_CPU_ISA`` for oneDNN (the
    convolutions, pooling, matrix products) and ``--xla_cpu_max_isa`` for
    what XLA compiles (dreamer's Winograd convolutions on such CPUs).
    """
    if not max_isa:
        return dict(environ)
    flags = f"{environ.get('XLA_FLAGS', '')} --xla_cpu_max_isa={max_isa}".strip()
    return {**environ, "ONEDNN_MAX_CPU_ISA": max_isa, "XLA_FLAGS": flags}


def cpu_peak(fma_units: int, ghz: float | None, max_isa: str | None = None) -> dict:
    """The paper peak in GFLOP/s for float32 and, where the flags say so, bfloat16.

    ``cores x FMA units x float32 lanes x 2 FLOP x clock``: lanes from the
    CPU flags (AVX-512F 16, AVX2 with FMA 8, else 4), cores from the usable
    CPUs over threads per core, the clock from /proc/cpuinfo's ``cpu MHz``
    (under a hypervisor the nominal clock; turbo is not visible) unless
    ``ghz`` is given. FMA units per core are not visible from Linux (2 on
    Xeon Scalable and most desktop cores since Haswell). bfloat16:
    AVX512-BF16 does twice the float32 FLOPs per FMA unit; AMX-BF16 1024
    FLOP per cycle per core (one 16x32 by 32x16 tile product per 16 cycles).
    ``max_isa="AVX2"`` (oneDNN's ``ONEDNN_MAX_CPU_ISA`` cap) leaves out the
    AVX-512 and AMX flags, as on a CPU that has only AVX2.
    """
    from dreamer.precision import capped_flags, cpu_flags

    flags = capped_flags(cpu_flags(), max_isa or "")
    lanes = 16 if "avx512f" in flags else 8 if {"avx2", "fma"} <= flags else 4
    fma = fma_units if "fma" in flags or "avx512f" in flags else 0
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: the clock must come from ghz
        info = ""
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    siblings = [int(line.split(":")[1]) for line in info.splitlines() if line.startswith("siblings")]
    per_core = [int(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu cores")]
    threads_per_core = max(1, siblings[0] // per_core[0]) if siblings and per_core else 1
    cores = max(1, len(os.sched_getaffinity(0)) // threads_per_core)
    clock = ghz or (max(mhz) / 1000 if mhz else 0.0)
    per_cycle = (fma * lanes * 2) if fma else lanes  # no FMA: one add or multiply per lane
    out = {"vector_bits": lanes * 32, "float32_lanes": lanes, "fma_units_assumed": fma, "cores": cores,
           "threads_per_core": threads_per_core, "ghz": clock, "ghz_source": "--ghz" if ghz else "/proc/cpuinfo",
           "float32_flop_per_cycle_per_core": per_cycle, "float32_gflops": cores * per_cycle * clock}
    if "avx512_bf16" in flags:
        out["bfloat16_avx512_gflops"] = 2 * out["float32_gflops"]
    if "amx_bf16" in flags:
        out["bfloat16_amx_gflops"] = cores * 1024 * clock
    return out


def peak_rss_mib() -> float:
    """The process's peak resident memory (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_image(size: int):
    """The astronaut sample, square, ``size`` px, float32 [0, 1]."""
    import numpy as np
    from PIL import Image

    image = Image.open(SAMPLE).convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32) / 255.0


def build_adapter(model_name: str, cache_dir: str):
    """(adapter, its keras.Model): the random InceptionV3 or a registered model."""
    from dreamer.models import adapter_for_keras, load_model

    layers, _loss, preprocess = MODELS[model_name]
    if model_name == "inceptionv3":
        import keras

        keras.utils.set_random_seed(0)
        model = keras.applications.InceptionV3(include_top=False, weights=None)
        return adapter_for_keras(model, "inceptionv3-random", preprocess), model
    adapter = load_model(model_name, Path(cache_dir))
    return adapter, adapter.model


def make_dreamer(adapter, model_name: str, precision: str):
    from dreamer.api import Dreamer

    layers, loss, _preprocess = MODELS[model_name]
    return Dreamer(adapter, layers, loss=loss, precision=precision)


class TutorialDeepDream:
    """The baseline: the TensorFlow DeepDream tutorial's loop, on a Keras model's layers (mixed3 and mixed5 in it)."""

    def __init__(self, model, layer_names=("mixed3", "mixed5"), jit_compile: bool = False):
        import keras
        import tensorflow as tf

        dream_model = keras.Model(model.inputs, [model.get_layer(n).output for n in layer_names])

        class DeepDream(tf.Module):
            def __init__(self, model):
                self.model = model

            @tf.function(
                input_signature=(
                    tf.TensorSpec(shape=[None, None, 3], dtype=tf.float32),
                    tf.TensorSpec(shape=[], dtype=tf.int32),
                    tf.TensorSpec(shape=[], dtype=tf.float32),
                ),
                jit_compile=jit_compile,
            )
            def __call__(self, img, steps, step_size):
                loss = tf.constant(0.0)
                for _ in tf.range(steps):
                    with tf.GradientTape() as tape:
                        tape.watch(img)
                        activations = self.model(tf.expand_dims(img, axis=0))
                        if not isinstance(activations, (list, tuple)):  # one layer (as the tutorial's calc_loss)
                            activations = [activations]
                        loss = tf.reduce_sum([tf.math.reduce_mean(a) for a in activations])
                    gradients = tape.gradient(loss, img)
                    gradients /= tf.math.reduce_std(gradients) + 1e-8
                    img = img + gradients * step_size
                    img = tf.clip_by_value(img, -1, 1)
                return loss, img

        self.module = DeepDream(dream_model)

    def steps(self, image01, steps: int):
        """``steps`` tutorial steps on a [0, 1] image (run in -1..1); returns the [0, 1] result."""
        import tensorflow as tf

        _, out = self.module(tf.constant(image01 * 2.0 - 1.0), tf.constant(steps), tf.constant(BASELINE_STEP_SIZE))
        return (out.numpy() + 1.0) / 2.0

    def dream(self, image01, shapes, steps: int):
        """The tutorial's octave loop at dreamer's octave sizes."""
        import tensorflow as tf

        img = image01
        for shape in shapes:
            img = tf.image.resize(img, shape).numpy()
            img = self.steps(img, steps)
        return img


def forward_and_step_flops(adapter, layer_names, size: int) -> tuple[float, float]:
    """(forward FLOPs, step FLOPs) at ``size`` x ``size``, counted on the float32 graph."""
    import tensorflow as tf
    from tensorflow.python.framework import ops as tf_ops

    features = adapter.feature_model(layer_names)

    @tf.function
    def forward(image):
        out = features(adapter.preprocess(image[None]), training=False)
        return tf.add_n([tf.reduce_mean(v) for v in tf.nest.flatten(out)])

    graph = forward.get_concrete_function(tf.TensorSpec([size, size, 3], tf.float32)).graph
    total = conv = 0.0
    for op in graph.get_operations():
        try:
            flops = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
        except (ValueError, KeyError, TypeError):
            flops = 0
        total += flops
        if op.type in ("Conv2D", "DepthwiseConv2dNative"):
            conv += flops
    return total, total + conv


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def timed_cpu(fn, *args):
    """(wall seconds, CPU seconds of this process, result): CPU time is less disturbed by other jobs."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return time.perf_counter() - start, time.process_time() - cpu, out


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


# ---------------------------------------------------------------- workers (run in subprocesses)


def worker_speed(args) -> dict:
    import numpy as np

    from dreamer.engine import DreamConfig, ascent_step, octave_shapes
    from dreamer.models.rewrite import has_depthwise_convolutions
    from dreamer.precision import detect_precision

    result: dict = {}
    load_s, (adapter, keras_model) = timed(build_adapter, args.model, args.cache_dir)
    result["load_s"] = load_s
    layer_names = tuple(MODELS[args.model][0])
    image = test_image(args.size)
    config = DreamConfig(iterations=args.steps, octaves=args.octaves, seed=0)
    shapes, _ = octave_shapes(args.size, args.size, args.octaves, config.octave_scale, adapter.min_size)

    auto = detect_precision("auto", has_depthwise_convolutions(adapter.feature_model(layer_names)))
    result["auto_precision"] = auto
    precisions = ["float32", "bfloat16"] if args.precision == "both" else [args.precision]
    variants = {}
    for precision in precisions:
        dreamer = make_dreamer(adapter, args.model, precision)
        build_s, gradient = timed(lambda d=dreamer: d.gradient)
        first_s, _ = timed(gradient, image)
        variants[f"dreamer {gradient.precision}"] = {"dreamer": dreamer, "precision": gradient.precision,
                                                      "build_s": build_s, "first_call_s": first_s}
        # a new size: what a new octave or tile size costs the first time, then in steady state
        other = image[: args.size * 5 // 7, : args.size * 5 // 7]
        new_first, _ = timed(gradient, other)
        new_again, _ = timed(gradient, other)
        variants[f"dreamer {gradient.precision}"].update(new_size_first_s=new_first, new_size_steady_s=new_again)

    runners = {}
    if keras_model is not None:
        baseline = TutorialDeepDream(keras_model, layer_names)
        first_s, _ = timed(baseline.steps, image, 1)
        runners["baseline (TF tutorial)"] = lambda n, img=image: baseline.steps(img, n)
        result["baseline_first_call_s"] = first_s
    for name, variant in variants.items():
        dreamer = variant["dreamer"]

        def run_steps(n, img=image, d=dreamer):
            rng = np.random.default_rng(0)
            current = img
            for _ in range(n):
                current, _ = ascent_step(current, d.gradient, config, rng)
            return current

        run_steps(1)
        runners[name] = run_steps

    # interleaved rounds
    per_step = {name: [] for name in runners}
    cpu_per_step = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, fn in runners.items():
            seconds, cpu, _ = timed_cpu(fn, args.steps)
            per_step[name].append(seconds / args.steps * 1000)
            cpu_per_step[name].append(cpu / args.steps * 1000)

    # the same at every octave's size: small images gain less from bfloat16 (fixed costs per op)
    by_size = []
    for shape in shapes:
        small = test_image(shape[0])
        for fn in runners.values():
            fn(1, small)  # warm-up at this size
        times = {name: [] for name in runners}
        cpu_times = {name: [] for name in runners}
        for _ in range(max(3, args.repeats // 3)):
            for name, fn in runners.items():
                seconds, cpu, _ = timed_cpu(fn, args.steps, small)
                times[name].append(seconds / args.steps * 1000)
                cpu_times[name].append(cpu / args.steps * 1000)
        by_size.append({"size": shape[0], "ms_per_step": {k: statistics.median(v) for k, v in times.items()},
                        "cpu_ms_per_step": {k: statistics.median(v) for k, v in cpu_times.items()}})
    result["by_octave_size"] = by_size

    forward_flops, step_flops = forward_and_step_flops(adapter, layer_names, args.size)
    result["forward_gflop"] = forward_flops / 1e9
    result["step_gflop"] = step_flops / 1e9

    # whole dreams: images per minute, and the dreams themselves for the bf16/f32 comparison
    dreamers = {name: (lambda d=variant["dreamer"]: d.ascend(image, config)) for name, variant in variants.items()}
    if "baseline (TF tutorial)" in runners:
        dreamers = {"baseline (TF tutorial)": lambda: baseline.dream(image, shapes, args.steps), **dreamers}
    dreams = {name: fn() for name, fn in dreamers.items()}  # warm-up: every octave size once
    dream_times = {name: [] for name in dreamers}
    dream_cpu = {name: [] for name in dreamers}
    for _ in range(args.dream_repeats):  # interleaved like the steps
        for name, fn in dreamers.items():
            seconds, cpu, dreams[name] = timed_cpu(fn)
            dream_times[name].append(seconds)
            dream_cpu[name].append(cpu)
    dream_seconds = {name: statistics.median(times) for name, times in dream_times.items()}
    dreams = {variants[name]["precision"]: dreams[name] for name in variants}
    result["dream_calls"] = time_dream_calls(keras_model, args, image)

    rows = []
    base_name = "baseline (TF tutorial)"
    for name, times in per_step.items():
        median = statistics.median(times)
        row = {
            "name": name,
            "ms_per_step": median,
            "ms_per_step_all": times,
            "gflops_per_s": step_flops / 1e9 / (median / 1000),
            "images_per_min": 60.0 / dream_seconds[name],
            "dream_s": dream_seconds[name],
            "dream_s_all": dream_times[name],
            "cpu_ms_per_step": statistics.median(cpu_per_step[name]),
            "dream_cpu_s": statistics.median(dream_cpu[name]),
        }
        if name in variants:
            v = variants[name]
            row.update(precision=v["precision"], default=(v["precision"] == auto),
                       first_step_s=v["build_s"] + v["first_call_s"], new_size_first_s=v["new_size_first_s"],
                       new_size_steady_s=v["new_size_steady_s"])
        if base_name in per_step and name != base_name:
            ratios = [b / d for b, d in zip(per_step[base_name], times)]
            row["speedup_vs_baseline"] = statistics.median(ratios)
            row["speedup_vs_baseline_all"] = ratios
            row["speedup_vs_baseline_cpu"] = statistics.median(
                [b / d for b, d in zip(cpu_per_step[base_name], cpu_per_step[name])])
            row["dream_speedup_vs_baseline_cpu"] = statistics.median(
                [b / d for b, d in zip(dream_cpu[base_name], dream_cpu[name])])
        rows.append(row)
    result["rows"] = rows

    if args.xla and base_name in runners:
        xla = TutorialDeepDream(keras_model, jit_compile=True)
        compile_s, _ = timed(xla.steps, image, 1)
        times = []
        for _ in range(max(2, args.repeats // 2)):
            seconds, _ = timed(xla.steps, image, args.steps)
            times.append(seconds / args.steps * 1000)
        result["xla_baseline"] = {"first_call_s": compile_s, "ms_per_step": statistics.median(times),
                                  "ms_per_step_all": times}

    if "float32" in dreams and "bfloat16" in dreams:
        other_seed = variants["dreamer float32"]["dreamer"].ascend(image, DreamConfig(
            iterations=args.steps, octaves=args.octaves, seed=1))
        result["bf16_vs_f32_psnr_db"] = psnr(dreams["float32"], dreams["bfloat16"])
        result["f32_seed0_vs_seed1_psnr_db"] = psnr(dreams["float32"], other_seed)
        result["f32_vs_input_psnr_db"] = psnr(dreams["float32"], image)
        if args.save_images:
            from dreamer.images import to_pil

            folder = Path(args.save_images)
            folder.mkdir(parents=True, exist_ok=True)
            for key, array in dreams.items():
                to_pil(array).save(folder / f"{args.model}_{args.size}_{key}.png")
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def time_dream_calls(keras_model, args, image) -> dict:
    """Seconds per whole dream: ``dream(model=keras_model)`` called again and again, against a kept Dreamer."""
    from dreamer.api import Dreamer, dream
    from dreamer.engine import DreamConfig

    layers, loss, _ = MODELS[args.model]
    settings = {"layers": layers, "loss": loss, "preprocess": "tf", "precision": "auto"}
    kept = Dreamer(keras_model, **settings)
    config = DreamConfig(iterations=args.steps, octaves=args.octaves, seed=0)
    pixels = (image * 255).astype("uint8")
    runs = {
        "dream() on the same keras.Model": lambda: dream(pixels, model=keras_model, seed=0, iterations=args.steps,
                                                         octaves=args.octaves, **settings),
        "kept Dreamer": lambda: kept.dream(pixels, config),
    }
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for _ in range(args.dream_repeats):
        for name, fn in runs.items():
            seconds, cpu_seconds, _ = timed_cpu(fn)
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
    return {"dream_s": {name: statistics.median(v) for name, v in times.items()}, "dream_s_all": times,
            "dream_cpu_s": {name: statistics.median(v) for name, v in cpu.items()},
            "again_vs_kept": statistics.median([a / b for a, b in zip(*times.values())]),
            "again_vs_kept_cpu": statistics.median([a / b for a, b in zip(*cpu.values())])}


def worker_memory(args) -> dict:
    from dreamer.engine import DreamConfig, octave_shapes

    adapter, keras_model = build_adapter(args.model, args.cache_dir)
    image = test_image(args.size)
    config = DreamConfig(iterations=args.steps, octaves=args.octaves, seed=0)
    if args.variant == "baseline":
        baseline = TutorialDeepDream(keras_model, tuple(MODELS[args.model][0]))
        shapes, _ = octave_shapes(args.size, args.size, args.octaves, config.octave_scale, adapter.min_size)
        loaded = current_rss_mib()
        seconds, _ = timed(baseline.dream, image, shapes, args.steps)
        precision = "float32"
    else:
        dreamer = make_dreamer(adapter, args.model, args.variant)
        dreamer.gradient  # noqa: B018
        loaded = current_rss_mib()
        seconds, _ = timed(dreamer.ascend, image, config)
        precision = dreamer.gradient.precision
    return {"size": args.size, "variant": args.variant, "precision": precision, "steps": args.steps,
            "octaves": args.octaves, "loaded_rss_mib": loaded, "peak_rss_mib": peak_rss_mib(), "dream_s": seconds}


def worker_load(args) -> dict:
    """Start-up of the API in a fresh process: import, model load, first step."""
    start = time.perf_counter()
    import tensorflow  # noqa: F401

    import_s = time.perf_counter() - start
    load_s, (adapter, _model) = timed(build_adapter, args.model, args.cache_dir)
    dreamer = make_dreamer(adapter, args.model, args.precision)
    image = test_image(args.size)
    build_s, gradient = timed(lambda: dreamer.gradient)
    first_s, _ = timed(gradient, image)
    steady_s, _ = timed(gradient, image)
    return {"import_tensorflow_s": import_s, "load_model_s": load_s, "rewrite_s": build_s,
            "first_step_s": first_s, "steady_step_s": steady_s, "precision": gradient.precision}


WORKERS = {"speed": worker_speed, "memory": worker_memory, "load": worker_load}


def run_worker(kind: str, args, **overrides) -> dict:
    """Run a worker in a fresh Python process; returns its JSON."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", kind,
            "--model", args.model, "--size", str(args.size), "--octaves", str(args.octaves),
            "--steps", str(args.steps), "--repeats", str(args.repeats), "--dream-repeats", str(args.dream_repeats),
            "--precision", args.precision,
            "--cache-dir", args.cache_dir]
    if not args.xla:
        argv.append("--no-xla")
    if args.save_images:
        argv += ["--save-images", args.save_images]
    for key, value in overrides.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- sections (in the parent process)


def section_speed(args) -> dict:
    return run_worker("speed", args, precision="both" if args.precision == "auto" else args.precision)


def section_memory(args, variants) -> dict:
    """Peak RSS of each configuration, of each size at ``--steps``, of the largest at 1 step, and of the command."""
    per_config = [run_worker("memory", args, variant=v) for v in variants]
    scaling = [run_worker("memory", args, size=s, variant=args.precision) for s in args.memory_sizes]
    largest = max(args.memory_sizes)
    one_step = run_worker("memory", args, size=largest, steps=1, variant=args.precision)
    at_steps = next(r for r in scaling if r["size"] == largest)
    return {"per_configuration": per_config, "scaling": scaling, "one_step": one_step,
            "steps_growth": at_steps["peak_rss_mib"] / one_step["peak_rss_mib"] - 1.0,
            "command": command_peak_rss(args, largest)}


def command_peak_rss(args, size: int) -> dict:
    """The ``dream`` command on a ``size`` px PNG at ``--octaves`` x ``--steps``: its peak RSS (ru_maxrss)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"photo{size}.png"
        from PIL import Image

        Image.open(SAMPLE).convert("RGB").resize((size, size), Image.Resampling.BICUBIC).save(source)
        model_args = [] if args.model == "efficientnet-lite0" else ["--model", args.model]
        argv = [sys.executable, "-m", "dreamer.cli", str(source), "-o", str(Path(tmp) / "out.png"), "-q",
                "--seed", "0", "--iterations", str(args.steps), "--octaves", str(args.octaves),
                "--precision", args.precision, "--cache-dir", args.cache_dir, *model_args]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"dream command failed:\n{proc.stderr.read().decode()[-3000:]}")
    return {"size": size, "steps": args.steps, "octaves": args.octaves, "peak_rss_mib": usage.ru_maxrss / 1024,
            "wall_s": seconds, "command": " ".join(["dream", f"photo{size}.png", *argv[6:]])}


def section_startup(args) -> dict:
    help_times = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dreamer.cli", "--help"], capture_output=True, check=True, env=env,
                       cwd=ROOT)
        help_times.append(time.perf_counter() - start)
    load = run_worker("load", args, precision=args.precision)
    return {"help_s": statistics.median(help_times), "help_s_all": help_times, **load}


def section_batch(args) -> dict:
    """One ``dream`` command on 10 images of 512 px."""
    from PIL import Image

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = Image.open(SAMPLE).convert("RGB").resize((640, 640))
        inputs = []
        for i in range(args.batch):
            path = tmp / f"in{i}.png"
            source.crop((i * 12, i * 8, i * 12 + 512, i * 8 + 512)).save(path)
            inputs.append(str(path))
        model_args = []
        if args.model == "inceptionv3":
            model_path = tmp / "inceptionv3-random.keras"
            code = ("import sys, keras; keras.utils.set_random_seed(0); "
                    "keras.applications.InceptionV3(include_top=False, weights=None).save(sys.argv[1])")
            subprocess.run([sys.executable, "-c", code, str(model_path)], check=True, capture_output=True)
            model_args = ["--model", str(model_path), "--preprocess", "tf", "--layer", "mixed3", "--layer",
                          "mixed5", "--loss", "mean"]
        elif args.model != "efficientnet-lite0":
            model_args = ["--model", args.model]
        argv = [sys.executable, "-m", "dreamer.cli", *inputs, "-o", str(tmp / "out"), "-q", "--seed", "1",
                "--precision", args.precision, "--cache-dir", args.cache_dir, *model_args]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"batch run failed:\n{proc.stderr[-3000:]}")
        written = len(list((tmp / "out").glob("*.png")))
        out = {"images": args.batch, "written": written, "size": 512, "wall_s": seconds,
               "images_per_min": args.batch / seconds * 60, "command": " ".join(["dream", *argv[3:]])}
    return out


# ---------------------------------------------------------------- tables


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _peak_of(peak: dict, row: dict) -> float:
    """The paper peak for a speed row's precision (bfloat16: AMX where the CPU has it, else AVX512-BF16)."""
    if row.get("precision") == "bfloat16":
        return peak.get("bfloat16_amx_gflops") or peak.get("bfloat16_avx512_gflops") or peak["float32_gflops"]
    return peak["float32_gflops"]


def report(results: dict) -> str:
    s = results["settings"]
    m = results["machine"]
    out = [f"dreamer benchmark, {results['date']}: {m['cpu']}, {m['usable_cpus']} CPUs "
           f"({', '.join(m['bf16_flags']) or 'no bf16'}), TensorFlow {m['tensorflow']}, "
           f"{'GPU: ' + ', '.join(m['gpus']) if m['gpus'] else 'no GPU'}",
           f"model {s['model']} layers {','.join(s['layers'])} loss {s['loss']}, {s['size']} px, "
           f"{s['octaves']} octaves x {s['steps']} steps; load average {results['load_before']} before, "
           f"{results['load_after']} after", ""]
    speed = results.get("speed")
    if speed:
        rows = [["configuration", "ms/step", "GFLOP/s", "images/min", "peak RSS MiB", "vs baseline",
                 "CPU ms/step", "vs baseline (CPU)", "dream vs baseline (CPU)"]]
        peaks = {r["variant"]: r["peak_rss_mib"] for r in results.get("memory", {}).get("per_configuration", [])}
        for row in speed["rows"]:
            key = "baseline" if row["name"].startswith("baseline") else row.get("precision")
            name = row["name"] + (" (default)" if row.get("default") else "")
            rows.append([name, f"{row['ms_per_step']:.0f}", f"{row['gflops_per_s']:.0f}",
                         f"{row['images_per_min']:.1f}", f"{peaks[key]:.0f}" if key in peaks else "-",
                         f"{row['speedup_vs_baseline']:.2f}x" if "speedup_vs_baseline" in row
                         else "1.00x" if key == "baseline" else "-",
                         f"{row['cpu_ms_per_step']:.0f}" if "cpu_ms_per_step" in row else "-",
                         *[f"{row[k]:.2f}x" if k in row else "1.00x" if key == "baseline" else "-"
                           for k in ("speedup_vs_baseline_cpu", "dream_speedup_vs_baseline_cpu")]])
        out += [table(rows), "",
                f"FLOPs per step: {speed['step_gflop']:.1f} GFLOP (forward {speed['forward_gflop']:.1f}, counted by "
                "the TF profiler on the float32 graph, + the convolutions' input gradients)"]
        peak = m.get("peak")
        if peak and peak["float32_gflops"] > 0:
            out.append(f"CPU peak (paper, {peak['cores']} cores x {peak['fma_units_assumed']} FMA units x "
                       f"{peak['float32_lanes']} lanes x 2 x {peak['ghz']:.2f} GHz): float32 "
                       f"{peak['float32_gflops']:.0f} GFLOP/s" + "".join(
                           f", {k.removesuffix('_gflops').replace('_', ' ')} {v:.0f}" for k, v in peak.items()
                           if k.startswith("bfloat16")) + "; per row, GFLOP/s as % of the peak of its precision: "
                       + ", ".join(f"{r['name']} {r['gflops_per_s'] / _peak_of(peak, r) * 100:.0f}%"
                                   for r in speed["rows"]))
        if "xla_baseline" in speed:
            x = speed["xla_baseline"]
            out.append(f"baseline with XLA (jit_compile=True): {x['ms_per_step']:.0f} ms/step, "
                       f"first call (compile) {x['first_call_s']:.1f} s")
        if "dream_calls" in speed:
            calls = speed["dream_calls"]
            out.append("whole dream, s: " + ", ".join(f"{k} {v:.2f}" for k, v in calls["dream_s"].items())
                       + f" (ratio {calls['again_vs_kept']:.2f}; in CPU time {calls.get('again_vs_kept_cpu', 0):.2f})")
        if "bf16_vs_f32_psnr_db" in speed:
            out.append(f"bfloat16 vs float32 dream: PSNR {speed['bf16_vs_f32_psnr_db']:.1f} dB (for scale: float32 "
                       f"seed 0 vs seed 1 {speed['f32_seed0_vs_seed1_psnr_db']:.1f} dB, dream vs input "
                       f"{speed['f32_vs_input_psnr_db']:.1f} dB)")
        if speed.get("by_octave_size"):
            names = list(speed["by_octave_size"][0]["ms_per_step"])
            rows = [["octave size", *[f"{n} ms/step (CPU ms)" for n in names]]]
            for entry in speed["by_octave_size"]:
                cpu = entry.get("cpu_ms_per_step", {})
                rows.append([f"{entry['size']} px", *[f"{entry['ms_per_step'][n]:.0f}"
                                                      + (f" ({cpu[n]:.0f})" if n in cpu else "") for n in names]])
            out += ["", table(rows), ""]
        for row in speed["rows"]:
            if "first_step_s" in row:
                out.append(f"{row['name']}: rewrite + trace + first step {row['first_step_s']:.2f} s; first call at a "
                           f"new size {row['new_size_first_s']:.2f} s (then {row['new_size_steady_s']:.2f} s)")
        out.append("")
    memory = results.get("memory")
    if memory:
        rows = [["image", "octaves x steps", "precision", "RSS after load MiB", "peak RSS MiB", "dream s"]]
        for r in [*memory["scaling"], *([memory["one_step"]] if "one_step" in memory else [])]:
            rows.append([f"{r['size']}x{r['size']}", f"{r['octaves']} x {r['steps']}", r["precision"],
                         f"{r['loaded_rss_mib']:.0f}", f"{r['peak_rss_mib']:.0f}", f"{r['dream_s']:.1f}"])
        out += [table(rows), ""]
        if "steps_growth" in memory:
            one = memory["one_step"]
            out.append(f"{one['size']} px: peak RSS at {memory['scaling'][0]['steps']} steps per octave is "
                       f"{memory['steps_growth'] * 100:+.1f}% of the peak at 1 step")
        if "command" in memory:
            c = memory["command"]
            out += [f"{c['command']}: peak RSS {c['peak_rss_mib']:.0f} MiB, {c['wall_s']:.0f} s", ""]
    startup = results.get("startup")
    if startup:
        out.append(f"dream --help: {startup['help_s']:.2f} s; "
                   f"import TensorFlow {startup['import_tensorflow_s']:.2f} s, "
                   f"load model {startup['load_model_s']:.2f} s, rewrite {startup['rewrite_s']:.2f} s, first step "
                   f"{startup['first_step_s']:.2f} s (steady {startup['steady_step_s']:.2f} s)")
    batch = results.get("batch")
    if batch:
        out.append(f"batch: {batch['images']} images of {batch['size']} px in one dream command: "
                   f"{batch['wall_s']:.1f} s "
                   f"wall, start-up included = {batch['images_per_min']:.1f} images/min")
    return "\n".join(out)


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="inceptionv3", choices=sorted(MODELS),
                        help="inceptionv3: random-weight InceptionV3, mixed3+mixed5, mean loss (the baseline's "
                             "setting); efficientnet-lite0: dreamer's default model and layer (the baseline runs "
                             "the tutorial's loop on the same Keras model and layer)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10, help="steps per octave (and per timing round)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--dream-repeats", type=int, default=3, help="interleaved whole-dream rounds")
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16", "both"],
                        help="auto: time float32 and bfloat16 and mark the default")
    parser.add_argument("--memory-sizes", type=lambda t: [int(v) for v in t.split(",")],
                        default=[512, 1024, 2048, 4096])
    parser.add_argument("--batch", type=int, default=10, help="images in the batch section")
    parser.add_argument("--sections", default="speed,memory,startup,batch")
    parser.add_argument("--no-xla", dest="xla", action="store_false", help="skip timing the baseline under XLA")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 256 px, 3 repeats, memory up to 1024")
    parser.add_argument("--out", default=None, help="the JSON file [default: benchmarks/results/<date>_<model>.json]")
    parser.add_argument("--save-images", default=None, help="a folder for the float32 and bfloat16 dreams")
    parser.add_argument("--cache-dir", default=None, help="dreamer's model cache [default: a temporary folder]")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.repeats, args.memory_sizes, args.batch, args.dream_repeats = 256, 3, [256, 512, 1024], 3, 1
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        sys.path.insert(0, str(ROOT))
        print(json.dumps(WORKERS[args.worker](args)))
        return
    sys.path.insert(0, str(ROOT))
    from dreamer.cli import quiet_tensorflow_import

    quiet_tensorflow_import()
    with tempfile.TemporaryDirectory() as cache:
        args.cache_dir = args.cache_dir or cache
        sections = [s.strip() for s in args.sections.split(",") if s.strip()]
        layers, loss, _ = MODELS[args.model]
        results = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python benchmarks/bench.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "machine": machine_info(),
            "settings": {"model": args.model, "layers": list(layers), "loss": loss, "size": args.size,
                         "octaves": args.octaves, "steps": args.steps, "repeats": args.repeats,
                         "precision": args.precision},
            "load_before": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        }
        precisions = ["float32", "bfloat16"] if args.precision in ("auto", "both") else [args.precision]
        if "speed" in sections:
            results["speed"] = section_speed(args)
        if "memory" in sections:
            variants = ["baseline", *precisions]
            results["memory"] = section_memory(args, variants)
        if "startup" in sections:
            results["startup"] = section_startup(args)
        if "batch" in sections:
            results["batch"] = section_batch(args)
        results["load_after"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    text = report(results)
    results["report"] = text
    print(text)
    out = Path(args.out) if args.out else RESULTS / (
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}_{args.model}_{args.size}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
