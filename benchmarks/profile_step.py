#!/usr/bin/env python
"""Where a float32 step's time goes, per kind of op, against the CPU's peak.

Run from the repository root (not part of the test suite; a few minutes):

    python benchmarks/profile_step.py                       # 375x500, 10 steps, 7 rounds
    python benchmarks/profile_step.py --rounds 3 --out /tmp/p.json

The setup is issue 24's: a random-weight ``keras.applications.InceptionV3``
(``include_top=False``, seed 0), the objective ``mixed3`` + ``mixed5`` with
the mean loss, a 375x500 image, 10 steps, one octave, ``precision="float32"``
forced (``--precision bfloat16`` for dreamer's bfloat16 figure; the
tutorial stays float32). Three ways to run the same steps, all on the same ``keras.Model`` in
this one process:

- the TensorFlow DeepDream tutorial's loop (``bench.TutorialDeepDream``: a
  ``tf.function`` with a ``tf.range`` loop of steps);
- a kept ``Dreamer`` (``Dreamer.ascend`` with one octave of 10 steps:
  jitter, gradient, normalisation, update and clip);
- ``dreamer.dream(pixels, model=the_keras_model, ...)`` with the same
  settings (the second and later calls reuse the build kept on the model).

Speed: CPU seconds of this process (``time.process_time``, all threads)
and wall seconds per step, for rounds interleaved (tutorial, Dreamer,
dream(), again and again), medians; the ratios are medians of the per-round
ratios. On a machine shared with other jobs CPU time is the steadier
measure; wall time is reported too.

Profile: traced runs of 10 steps of the tutorial and of the Dreamer
(``tf.profiler.experimental``; ``--trace-rounds`` of each, interleaved, the
one with the shortest wall time kept as the least disturbed), the trace's XSpace read with the protobuf
shipped in TensorFlow. Each TensorFlow op's events on the executor threads
are summed per kind (forward convolution, backward-data convolution,
pooling, elementwise, data movement); "Python and NumPy outside
TensorFlow" is the wall time of the steps minus the time inside the
compiled function's call (jitter roll, roll back, normalisation, update,
clip, and the call's argument conversion); "dispatch" is the time inside
the call before its first op starts and after its last op ends. Event times
are wall times on the executor threads: on a loaded machine they include
time the thread was preempted, so GFLOP/s per kind are lower bounds.

FLOPs are counted from the model, not guessed: every Conv2D /
DepthwiseConv2dNative / MatMul in the float32 forward graph at this size,
by TensorFlow's own per-op FLOP statistics (2 x multiply-adds); the input
gradient of a convolution (backward data) has the same multiply-adds as
its forward pass. No weight gradients are computed.

Peak: ``cores x FMA units x float32 lanes x 2 FLOP x clock``. Lanes come
from the CPU flags (AVX-512F: 16, AVX2/FMA: 8, else SSE: 4); cores from the
usable CPUs over threads per core; the clock from ``/proc/cpuinfo``'s
``cpu MHz`` (under a hypervisor this is the nominal clock; turbo is not
visible) or ``--ghz``; FMA units per core are not visible from Linux:
``--fma-units`` (default 2, as on Xeon Scalable and most desktop cores
since Haswell). bfloat16, where the CPU has it: AVX512-BF16's
``vdpbf16ps`` does twice the float32 FLOPs per FMA unit, AMX-BF16 1024
FLOP per cycle per core (one 16x32 by 32x16 tile product every 16 cycles).
Beside the paper peak, an achieved peak: a large matrix product
(``tf.linalg.matmul``, 2048x2048) in float32 and bfloat16, CPU time.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import glob
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
LAYERS = {"mixed3": 1.0, "mixed5": 1.0}
#: Runs of each before timing: a kept Dreamer's image size moves to its Winograd upgrade (CPUs without
#: AVX-512) once earlier dreams spent the upgrade's compile time on it, ~5 s here: the 4th run of 10 steps.
WARM_UP = 4

KINDS = {  # op type (oneDNN's _MklNative... names included) -> kind
    "forward convolution": ("Conv2D", "FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative",
                            "MatMul", "FusedMatMul"),
    "backward-data convolution": ("Conv2DBackpropInput", "DepthwiseConv2dNativeBackpropInput", "MatMulGrad"),
    "pooling (forward and backward)": ("MaxPool", "AvgPool", "MaxPoolGrad", "AvgPoolGrad"),
    "data movement (concat, slice, pad, tile)": ("ConcatV2", "Slice", "Pad", "Tile", "StridedSlice",
                                                  "StridedSliceGrad", "Transpose", "Reshape", "Roll",
                                                  "GatherV2", "Fill", "BroadcastTo", "Identity"),
}
#: What runs XLA-compiled code (dreamer's Winograd convolutions) on an executor thread, and its kind.
XLA_EVENT = "CpuExecutable::ExecuteAsyncOnStream"
WINOGRAD = "Winograd convolutions (XLA, forward and backward)"
CONVOLUTIONS = ("forward convolution", "backward-data convolution", WINOGRAD)
BOOKKEEPING = ("StartRegion", "StopRegion", "Record", "ReadVariableOp", "Const", "NoOp", "_Arg", "_Retval",
               "While", "StatelessWhile", "If", "StatelessIf", "PartitionedCall", "StatefulPartitionedCall",
               "Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond")


def kind_of(op_type: str, op_name: str = "") -> str | None:
    """The kind of a TensorFlow op type; None for the executor's bookkeeping.

    A convolution is forward or backward by where it is, not by its type: a
    same convolution computed as an input gradient
    (``dreamer.models.convolution``) is a ``Conv2DBackpropInput`` in the
    forward pass. The tape's ops are named ``gradient_tape/...``, the input
    gradient of an input-gradient convolution ``backward_data``.
    """
    base = op_type.removeprefix("_MklNative").removeprefix("_Mkl").removeprefix("_")
    if op_type in BOOKKEEPING or base in BOOKKEEPING:
        return None
    for kind, types in KINDS.items():
        if base in types:
            if kind.endswith("convolution") and op_name:
                backward = "gradient_tape/" in op_name or op_name.rsplit("/", 1)[-1].startswith("backward_data")
                return "backward-data convolution" if backward else "forward convolution"
            return kind
    return "elementwise (ReLU and its gradient, bias, scale, add, mean)"


# ---------------------------------------------------------------- the machine's peak


def achieved_matmul(rounds: int = 5, bfloat16: bool = True) -> dict:
    """GFLOP per CPU second (and per wall second) of a 2048x2048 matrix product, float32 and bfloat16."""
    import tensorflow as tf

    out = {}
    n = 2048
    for dtype in (tf.float32, tf.bfloat16) if bfloat16 else (tf.float32,):
        a = tf.random.normal([n, n], seed=1, dtype=tf.float32)
        a = tf.cast(a, dtype)
        fn = tf.function(lambda x: tf.linalg.matmul(x, x))
        fn(a).numpy()
        cpu, wall = [], []
        for _ in range(rounds):
            c, w = time.process_time(), time.perf_counter()
            fn(a).numpy()
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
        flop = 2 * n**3
        out[dtype.name] = {"gflop_per_cpu_s": flop / statistics.median(cpu) / 1e9,
                           "gflop_per_wall_s": flop / statistics.median(wall) / 1e9}
    return out


# ---------------------------------------------------------------- FLOPs from the model


def step_flops(adapter, layer_names, shape: tuple[int, int]) -> dict:
    """FLOPs of one step at ``shape``: the forward graph's convolutions, and as much again for their input gradient."""
    import tensorflow as tf
    from tensorflow.python.framework import ops as tf_ops

    features = adapter.feature_model(layer_names)

    @tf.function
    def forward(image):
        out = features(adapter.preprocess(image[None]), training=False)
        return tf.add_n([tf.reduce_mean(v) for v in tf.nest.flatten(out)])

    graph = forward.get_concrete_function(tf.TensorSpec([*shape, 3], tf.float32)).graph
    conv = other = 0.0
    for op in graph.get_operations():
        try:
            flops = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
        except (ValueError, KeyError, TypeError):
            flops = 0
        if op.type in ("Conv2D", "DepthwiseConv2dNative", "MatMul"):
            conv += flops
        else:
            other += flops
    return {"forward_convolution_gflop": conv / 1e9, "backward_data_convolution_gflop": conv / 1e9,
            "forward_other_gflop": other / 1e9, "step_gflop": (2 * conv + other) / 1e9}


# ---------------------------------------------------------------- the three runners


def build(args):
    """(keras model, adapter, tutorial, kept Dreamer, the 375x500 image in [0, 1])."""
    import keras
    import numpy as np
    from bench import TutorialDeepDream

    from dreamer.api import Dreamer
    from dreamer.models import adapter_for_keras

    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionV3(include_top=False, weights=None)
    adapter = adapter_for_keras(model, "inceptionv3-random", "tf")
    image = np.random.default_rng(0).random((args.height, args.width, 3), dtype=np.float32)
    tutorial = TutorialDeepDream(model, tuple(LAYERS))
    kept = Dreamer(model, LAYERS, loss="mean", preprocess="tf", precision=args.precision)
    return model, adapter, tutorial, kept, image


def runners(args, model, tutorial, kept, image) -> dict:
    """name -> a function running ``args.steps`` steps (one octave) from ``image``."""
    from dreamer.api import dream
    from dreamer.engine import DreamConfig

    config = DreamConfig(iterations=args.steps, octaves=1, seed=0)
    pixels = (image * 255).astype("uint8")
    image = pixels.astype("float32") / 255.0  # what dream() sees: the same pixels for all three
    runs = {
        "tutorial loop": lambda: tutorial.steps(image, args.steps),
        "kept Dreamer": lambda: kept.ascend(image, config),
        "dream() on the same keras.Model": lambda: dream(pixels, model=model, layers=LAYERS, loss="mean",
                                                         preprocess="tf", precision=args.precision, seed=0,
                                                         iterations=args.steps, octaves=1),
    }
    if args.other_convolution:
        runs[f"kept Dreamer, {args.other_convolution} convolutions"] = other_convolution(args, model, image, config)
    return runs


def other_convolution(args, model, image, config):
    """A second kept Dreamer whose convolutions run another way (``direct``, ``input-gradient``, ``winograd``)."""
    import dreamer.models.rewrite as rewrite
    from dreamer.api import Dreamer

    other = Dreamer(model, LAYERS, loss="mean", preprocess="tf", precision=args.precision)
    plain = rewrite.rewrite_for_gradients

    def forced(model, precision="float32", **_):
        return plain(model, precision, convolution=args.other_convolution)

    def run():
        rewrite.rewrite_for_gradients = forced  # read once, when the Dreamer first builds its network
        try:
            return other.ascend(image, config)
        finally:
            rewrite.rewrite_for_gradients = plain

    return run


def interleaved(runs: dict, rounds: int, steps: int) -> dict:
    """Per step: median CPU and wall ms of each run over interleaved rounds, and ratios to the tutorial."""
    for _ in range(WARM_UP):
        for fn in runs.values():
            fn()  # warm-up: trace, rewrite, first call, and the Winograd upgrade where offered
    cpu = {name: [] for name in runs}
    wall = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            c, w = time.process_time(), time.perf_counter()
            fn()
            cpu[name].append((time.process_time() - c) / steps * 1000)
            wall[name].append((time.perf_counter() - w) / steps * 1000)
    first = next(iter(runs))
    out = {}
    for name in runs:
        out[name] = {"cpu_ms_per_step": statistics.median(cpu[name]), "wall_ms_per_step": statistics.median(wall[name]),
                     "cpu_ms_all": cpu[name], "wall_ms_all": wall[name],
                     "speed_vs_tutorial_cpu": statistics.median([a / b for a, b in zip(cpu[first], cpu[name])]),
                     "speed_vs_tutorial_wall": statistics.median([a / b for a, b in zip(wall[first], wall[name])])}
    kept, again = cpu["kept Dreamer"], cpu["dream() on the same keras.Model"]
    out["dream() vs kept Dreamer, CPU time ratio"] = statistics.median([a / b for a, b in zip(again, kept)])
    return out


# ---------------------------------------------------------------- the trace


def traced(fn, folder: str):
    """Run ``fn`` under the TensorFlow profiler; returns (the host plane of the XSpace it wrote, fn's wall ms)."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    tf.profiler.experimental.start(folder)
    try:
        start = time.perf_counter()
        fn()
        wall_ms = (time.perf_counter() - start) * 1000
    finally:
        tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(sorted(glob.glob(f"{folder}/**/*.xplane.pb", recursive=True))[-1]).read_bytes())
    return next(plane for plane in space.planes if plane.name == "/host:CPU"), wall_ms


def op_times(plane) -> tuple[dict, list[tuple[int, int]]]:
    """(ms per kind summed over the executor threads, (start, end) ps of every op event)."""
    per_kind = collections.Counter()
    spans = []
    for line in plane.lines:
        if not line.name.startswith("tf_Compute"):
            continue
        for event in line.events:
            name = plane.event_metadata[event.metadata_id].name
            if name == XLA_EVENT:  # a compiled function's run: the op events do not show it
                kind = WINOGRAD
            elif ":" not in name or "::" in name:  # not an op (ExecutorState::Process wraps ops)
                continue
            else:
                op_name, op_type = name.rsplit(":", 1)
                kind = kind_of(op_type, op_name)
            if kind is None:
                continue
            per_kind[kind] += event.duration_ps / 1e9
            start = line.timestamp_ns * 1000 + event.offset_ps
            spans.append((start, start + event.duration_ps))
    return dict(per_kind), spans


def call_events(plane, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) ps of the Python thread's events with one of ``names`` (the compiled function's calls)."""
    out = []
    for line in plane.lines:
        if line.name.startswith(("tf_Compute", "tf_numa")):
            continue
        for event in line.events:
            if plane.event_metadata[event.metadata_id].name in names:
                start = line.timestamp_ns * 1000 + event.offset_ps
                out.append((start, start + event.duration_ps))
    return out


def profile(fn, steps: int, call_names: tuple[str, ...]) -> dict:
    """One traced run of ``fn`` (``steps`` steps): ms per step per kind, dispatch, and outside TensorFlow."""
    with tempfile.TemporaryDirectory() as folder:
        plane, wall_ms = traced(fn, folder)
    per_kind, spans = op_times(plane)
    calls = call_events(plane, call_names)
    inside = sum(end - start for start, end in calls) / 1e9
    dispatch = 0.0
    for call_start, call_end in calls:
        within = [(s, e) for s, e in spans if call_start <= s <= call_end]
        if within:
            dispatch += (min(s for s, _ in within) - call_start + call_end - max(e for _, e in within)) / 1e9
    out = {kind: ms / steps for kind, ms in sorted(per_kind.items(), key=lambda kv: -kv[1])}
    out["Python dispatch (call to first op, last op to return)"] = dispatch / steps
    out["outside TensorFlow (jitter, tiling, normalise, update, clip in NumPy)"] = max(0.0, wall_ms - inside) / steps
    return {"wall_ms_per_step": wall_ms / steps, "calls": len(calls), "ms_per_step_by_kind": out}


# ---------------------------------------------------------------- report


def with_gflops(prof: dict, flops: dict, cpu_ms: float) -> dict:
    """The profile's kinds with the achieved GFLOP/s of the convolutions, and the step's against its CPU time.

    A convolution's FLOPs are a direct convolution's (Winograd's do fewer
    multiplications for the same result): with Winograd convolutions in the
    profile only all convolutions together have a rate.
    """
    by_kind = prof["ms_per_step_by_kind"]
    rates = {}
    if not by_kind.get(WINOGRAD):
        for kind, key in (("forward convolution", "forward_convolution_gflop"),
                          ("backward-data convolution", "backward_data_convolution_gflop")):
            if by_kind.get(kind):
                rates[kind] = flops[key] / (by_kind[kind] / 1000)
    together = sum(by_kind.get(kind, 0.0) for kind in CONVOLUTIONS)
    if together:
        rates["all convolutions"] = conv_gflop(flops) / (together / 1000)
    return {**prof, "gflops_by_kind": rates, "step_gflops_per_cpu_s": flops["step_gflop"] / (cpu_ms / 1000)}


def conv_gflop(flops: dict) -> float:
    return flops["forward_convolution_gflop"] + flops["backward_data_convolution_gflop"]


def attributed(prof: dict, cpu_ms: float) -> dict:
    """Per op kind, CPU ms per step: the kind's share of the summed op time times the step's CPU ms.

    The trace's event times are wall times on the executor threads (a
    preempted thread's op looks long); their shares are steadier than their
    sums on a loaded machine, and the process's CPU time is what it spent.
    """
    ops = {k: v for k, v in prof["ms_per_step_by_kind"].items() if not k.startswith(("Python", "outside"))}
    total = sum(ops.values()) or 1.0
    return {kind: ms / total * cpu_ms for kind, ms in ops.items()}


def markdown(results: dict) -> str:
    names = list(results["profile"])
    kinds = list(dict.fromkeys(k for p in results["profile"].values() for k in p["ms_per_step_by_kind"]))
    flops = results["flops"]
    conv_flops = {"forward convolution": flops["forward_convolution_gflop"],
                  "backward-data convolution": flops["backward_data_convolution_gflop"]}
    rows = ["| op kind | " + " | ".join(f"{n}: trace ms/step | CPU ms/step (share) | GFLOP per CPU s"
                                        for n in names) + " |", "|---|" + "---|---|---|" * len(names)]
    for kind in kinds + ["all convolutions"]:
        cells = []
        for name in names:
            prof = results["profile"][name]
            share = attributed(prof, results["speed"][name]["cpu_ms_per_step"])
            if kind == "all convolutions":
                ms = sum(prof["ms_per_step_by_kind"].get(k, 0.0) for k in CONVOLUTIONS)
                cpu = sum(share.get(k, 0.0) for k in CONVOLUTIONS)
                flop = conv_gflop(flops)
            else:
                ms, cpu, flop = prof["ms_per_step_by_kind"].get(kind), share.get(kind), conv_flops.get(kind)
                if prof["ms_per_step_by_kind"].get(WINOGRAD):  # part of these FLOPs ran as Winograd
                    flop = None
            rate = flop / (cpu / 1000) if cpu and flop else None
            cells += [f"{ms:.1f}" if ms is not None else "-", f"{cpu:.0f}" if cpu is not None else "-",
                      f"{rate:.0f}" if rate else "-"]
        rows.append(f"| {kind} | " + " | ".join(cells) + " |")
    peak = results["peak"]["float32_gflops"]
    lines = rows + ["", "| run | CPU ms/step | wall ms/step | speed vs tutorial (CPU) | (wall) | GFLOP per CPU s "
                    "| GFLOP/s (wall) | of the float32 paper peak |", "|---|---|---|---|---|---|---|---|"]
    for name, row in results["speed"].items():
        if isinstance(row, dict):
            rate = flops["step_gflop"] / (row["cpu_ms_per_step"] / 1000)
            wall_rate = flops["step_gflop"] / (row["wall_ms_per_step"] / 1000)
            lines.append(f"| {name} | {row['cpu_ms_per_step']:.0f} | {row['wall_ms_per_step']:.0f} | "
                         f"{row['speed_vs_tutorial_cpu']:.2f}x | {row['speed_vs_tutorial_wall']:.2f}x | {rate:.0f} | "
                         f"{wall_rate:.0f} | {wall_rate / peak:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--height", type=int, default=375)
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                        help="dreamer's precision (the tutorial loop is float32 either way)")
    parser.add_argument("--fma-units", type=int, default=2, help="FMA units per core (not visible from Linux)")
    parser.add_argument("--ghz", type=float, default=None, help="the clock [default: /proc/cpuinfo's cpu MHz]")
    parser.add_argument("--trace-rounds", type=int, default=3, help="traced runs of each; the shortest is kept")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="timings only")
    parser.add_argument("--out", default=None, help="JSON file [default: benchmarks/results/<date>_profile_step.json]")
    parser.add_argument("--table", default=None, help="print the tables of a saved JSON file (and update its table)")
    parser.add_argument("--other-convolution", default=None, choices=["direct", "input-gradient", "winograd"],
                        help="also time a kept Dreamer whose same convolutions run this way")
    parser.add_argument("--max-isa", default=None, choices=["AVX2"],
                        help="cap oneDNN and XLA at this instruction set: an AVX2-only CPU's kernels")
    args = parser.parse_args()
    if args.max_isa:  # before TensorFlow loads oneDNN and XLA
        from bench import capped_environment

        os.environ.update(capped_environment(os.environ, args.max_isa))
    if args.table:
        saved = json.loads(Path(args.table).read_text())
        saved["table"] = markdown(saved)
        Path(args.table).write_text(json.dumps(saved, indent=1) + "\n")
        print(saved["table"])
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT))
    from bench import cpu_peak, machine_info, write_results

    model, adapter, tutorial, kept, image = build(args)
    runs = runners(args, model, tutorial, kept, image)
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": "python benchmarks/profile_step.py " + " ".join(sys.argv[1:]),
               "machine": machine_info(), "load_before": os.getloadavg(),
               "setup": {"model": "InceptionV3 random weights (seed 0)", "layers": list(LAYERS), "loss": "mean",
                         "size": [args.height, args.width], "steps": args.steps, "octaves": 1,
                         "precision": args.precision, "rounds": args.rounds},
               "max_isa": args.max_isa, "peak": cpu_peak(args.fma_units, args.ghz, args.max_isa),
               "achieved_matmul": achieved_matmul(bfloat16=not args.max_isa),
               "flops": step_flops(adapter, tuple(LAYERS), (args.height, args.width))}
    results["speed"] = interleaved(runs, args.rounds, args.steps)
    if args.profile:
        results["profile"] = {}
        traces = {"tutorial loop": ("__call__",), "kept Dreamer": ("gradient", "octave")}
        kept = {}
        for _ in range(args.trace_rounds):  # interleaved; the least disturbed trace (shortest wall) is kept
            for name, call_names in traces.items():
                prof = profile(runs[name], args.steps, call_names)
                if name not in kept or prof["wall_ms_per_step"] < kept[name]["wall_ms_per_step"]:
                    kept[name] = prof
        for name, prof in kept.items():
            results["profile"][name] = with_gflops(prof, results["flops"], results["speed"][name]["cpu_ms_per_step"])
        results["table"] = markdown(results)
        print(results["table"])
    results["load_after"] = os.getloadavg()
    print(json.dumps({k: results[k] for k in ("peak", "achieved_matmul", "flops")}, indent=1))
    print(json.dumps({k: v for k, v in results["speed"].items()}, indent=1))
    write_results(results, args.out, "profile_step")


if __name__ == "__main__":
    main()
