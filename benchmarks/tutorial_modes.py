#!/usr/bin/env python
"""The tutorial loop and a kept Dreamer in several fresh processes: does the ratio depend on the process?

Run from the repository root (not part of the test suite; about 40 s per process):

    python benchmarks/tutorial_modes.py --processes 5
    python benchmarks/tutorial_modes.py --processes 5 --max-isa AVX2

Each process builds ``profile_step.py``'s setup (random InceptionV3,
``mixed3`` + ``mixed5``, 375x500, 10 steps, float32) and times the tutorial
loop and the kept ``Dreamer`` in interleaved rounds; the processes run one
after the other, never two at once. The TensorFlow tutorial's loop runs in
one of two speeds per process (its pooling gradients ~3.7x slower in the
slow one, by the profile), so a single process's ratio can mislead; this
prints each process's medians and the ratio against the tutorial's faster
processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKER = r"""
import argparse, json, statistics, sys, time
sys.path.insert(0, "benchmarks")
import profile_step
args = argparse.Namespace(height=375, width=500, steps=10, precision="float32", other_convolution=None)
model, adapter, tutorial, kept, image = profile_step.build(args)
runs = profile_step.runners(args, model, tutorial, kept, image)
names = ("tutorial loop", "kept Dreamer")
for _ in range(profile_step.WARM_UP):
    for name in names:
        runs[name]()
wall = {name: [] for name in names}
cpu = {name: [] for name in names}
for _ in range(int(sys.argv[1])):
    for name in names:
        w, c = time.perf_counter(), time.process_time()
        runs[name]()
        wall[name].append((time.perf_counter() - w) * 100)  # ms per step of 10
        cpu[name].append((time.process_time() - c) * 100)
print(json.dumps({name: {"wall_ms": statistics.median(wall[name]), "cpu_ms": statistics.median(cpu[name])}
                  for name in names}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per process")
    parser.add_argument("--max-isa", default=None, choices=["AVX2"],
                        help="cap oneDNN and XLA at this instruction set in the processes")
    parser.add_argument("--out", default=None, help="a JSON file for the results")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench import capped_environment

    env = capped_environment({**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}, args.max_isa)
    rows = []
    for index in range(args.processes):
        proc = subprocess.run([sys.executable, "-c", WORKER, str(args.rounds)], env=env, cwd=ROOT,
                              capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        tutorial, kept = rows[-1]["tutorial loop"], rows[-1]["kept Dreamer"]
        print(f"process {index + 1}: tutorial {tutorial['wall_ms']:.0f} ms wall ({tutorial['cpu_ms']:.0f} CPU), "
              f"Dreamer {kept['wall_ms']:.0f} ({kept['cpu_ms']:.0f} CPU), "
              f"ratio {tutorial['wall_ms'] / kept['wall_ms']:.2f}x wall", flush=True)
    fastest = min(row["tutorial loop"]["wall_ms"] for row in rows)
    fast = [row for row in rows if row["tutorial loop"]["wall_ms"] < 1.1 * fastest]
    summary = {
        "max_isa": args.max_isa, "processes": rows, "load": os.getloadavg(),
        "tutorial_fast_processes": len(fast),
        "ratio_vs_fast_tutorial_wall": statistics.median(
            [row["tutorial loop"]["wall_ms"] / row["kept Dreamer"]["wall_ms"] for row in fast]),
        "ratio_vs_fast_tutorial_cpu": statistics.median(
            [row["tutorial loop"]["cpu_ms"] / row["kept Dreamer"]["cpu_ms"] for row in fast]),
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "processes"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
