#!/usr/bin/env python
"""A whole default dream with two checkouts of dreamer, in alternating fresh processes.

Run from the repository root (not part of the test suite; several minutes):

    git archive main | tar -x -C /tmp/before      # the engine as it was
    python benchmarks/before_after.py --before /tmp/before --rounds 2

Each round runs one fresh process per checkout (before, after; the order
flips every round so that a drifting machine load hits both alike), never
two at once. A process loads the default model (EfficientNet-Lite0,
``precision="auto"``), dreams the sample photo resized to ``--size`` (default
1152x864, about a megapixel) with the default settings (4 octaves x 10
steps, seed 0) once cold (model rewrite, traces, every octave's first call)
and once warm, and reports the CPU seconds of the process
(``time.process_time``, all threads) and the wall seconds of each, and a
hash of the warm result's pixels. Reported: medians over rounds and the
median of the per-round ratios before / after (above 1: after is faster).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKER = r"""
import hashlib, json, sys, tempfile, time
import numpy as np
from PIL import Image
from dreamer.api import Dreamer
from dreamer.config import DreamConfig
width, height = int(sys.argv[1]), int(sys.argv[2])
image = Image.open(sys.argv[3]).convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
rgb = np.asarray(image, dtype=np.float32) / 255.0
with tempfile.TemporaryDirectory() as cache:
    dreamer = Dreamer(cache_dir=cache)
    out = {}
    for name in ("cold", "warm"):
        cpu, wall = time.process_time(), time.perf_counter()
        result = dreamer.ascend(rgb, DreamConfig(seed=0))
        out[name] = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}
    out["precision"] = dreamer.gradient.precision
    out["pixels_sha256"] = hashlib.sha256(np.ascontiguousarray(result).tobytes()).hexdigest()
print(json.dumps(out))
"""


def run(tree: Path, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", WORKER, str(args.width), str(args.height),
                           str(ROOT / "samples" / "astronaut.png")], env=env, cwd=tree, capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, type=Path, help="a checkout of the old version")
    parser.add_argument("--after", default=ROOT, type=Path, help="a checkout of the new version [default: this one]")
    parser.add_argument("--width", type=int, default=1152)
    parser.add_argument("--height", type=int, default=864)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=None, help="JSON file [default: benchmarks/results/<date>_before_after.json]")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for index in range(args.rounds):
        for name in (("before", "after") if index % 2 == 0 else ("after", "before")):
            runs[name].append(run(trees[name], args))
            print(name, json.dumps(runs[name][-1]), flush=True)
    summary = {}
    for phase in ("cold", "warm"):
        for unit in ("cpu_s", "wall_s"):
            summary[f"{phase}_{unit}"] = {name: statistics.median(r[phase][unit] for r in rows)
                                          for name, rows in runs.items()}
            summary[f"{phase}_{unit}_before_over_after"] = statistics.median(
                b[phase][unit] / a[phase][unit] for b, a in zip(runs["before"], runs["after"]))
    summary["same_pixels"] = len({r["pixels_sha256"] for rows in runs.values() for r in rows}) == 1
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": "python benchmarks/before_after.py " + " ".join(sys.argv[1:]),
               "trees": {k: str(v) for k, v in trees.items()}, "size": [args.width, args.height],
               "rounds": args.rounds, "runs": runs, "summary": summary}
    print(json.dumps(summary, indent=1))
    from bench import write_results

    write_results(results, args.out, "before_after")


if __name__ == "__main__":
    main()
