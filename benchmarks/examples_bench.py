#!/usr/bin/env python
"""``dream examples`` against a bare forward pass: images per second at 224 px on the default model.

Run from the repository root (not part of the test suite):

    python benchmarks/examples_bench.py                 # 96 photos, 3 rounds, 2 threads
    python benchmarks/examples_bench.py --rounds 1 --copies 4    # a quick look

The images are the sample photos (``samples/``), each saved ``--copies``
times with one pixel changed so that every file has its own content hash
(JPEG, quality 92, at their own sizes: 300 to 600 px a side). Measured in
one process, on one model object, in interleaved rounds after a warm-up of
each, medians reported (wall time and process CPU time, all threads):

- ``examples``: ``find_examples`` with a fresh activation cache: hash and
  decode every file (centre square, resized to 224), run the network to the
  two layers (block3b_add and block5c_add), reduce each map to per-channel
  mean, peak and position, write the cache shards, rank 8 channels per
  layer: what a first ``dream examples`` run costs, less the model loading
  and the sheets;
- ``examples_cached``: the same call again on the filled cache (other
  channels): no image runs;
- ``predict_layers``: ``feature_model.predict`` to the same two layers over
  the same images already decoded and preprocessed, in the same batches;
- ``predict_model``: the whole classifier's ``model.predict`` over them.

The ratio that answers "what do decoding, pooling and ranking add" is
examples over predict_layers. TensorFlow runs with ``--threads`` intra- and
inter-op threads. The machine is shared: say so beside any figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LAYERS = ("block3b_add", "block5c_add")


def make_photos(folder: Path, copies: int) -> int:
    """Each sample photo ``copies`` times, one pixel changed per copy; returns the count."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for sample in sorted((ROOT / "samples").glob("*.*")):
        if sample.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        base = np.asarray(Image.open(sample).convert("RGB")).copy()
        for copy in range(copies):
            base[0, copy % base.shape[1]] = (copy * 37) % 256
            Image.fromarray(base).save(folder / f"{sample.stem}_{copy:03d}.jpg", quality=92)
            count += 1
    return count


def timed(function) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from dreamer.dataset.collect import find_pictures, square_input
    from dreamer.dataset.examples import ExamplesRequest, find_examples, store_for
    from dreamer.dataset.rank import ChannelChoice
    from dreamer.fileio import default_cache_dir
    from dreamer.models import load_model

    work = Path(tempfile.mkdtemp(prefix="examples_bench_"))
    count = make_photos(work / "photos", args.copies)
    adapter = load_model("efficientnet-lite0", default_cache_dir())
    request = ExamplesRequest(LAYERS, ChannelChoice("selective", count=8), 9, 224, args.batch)
    decoded = np.stack([square_input(p.path, 224)[0] for p in find_pictures(work / "photos")])
    ready = np.asarray(adapter.preprocess(decoded.astype(np.float32) / 255.0))
    features = adapter.feature_model(list(LAYERS))
    caches = iter(range(10_000))
    state = {}

    def examples_cold():
        state["store"] = store_for(adapter, work / f"cache{next(caches)}", 224)
        find_examples(adapter, find_pictures(work / "photos"), request, state["store"])

    runs = {
        "examples": examples_cold,
        "examples_cached": lambda: find_examples(adapter, find_pictures(work / "photos"), request, state["store"]),
        "predict_layers": lambda: features.predict(ready, batch_size=args.batch, verbose=0),
        "predict_model": lambda: adapter.model.predict(ready, batch_size=args.batch, verbose=0),
    }
    for run in runs.values():  # warm-up: compile every path once
        run()
    times: dict[str, list] = {name: [] for name in runs}
    order = ["examples", "examples_cached", "predict_layers", "predict_model"]
    for number in range(args.rounds):  # the cached run always follows the cold one that filled its cache
        for name in order if number % 2 == 0 else order[2:][::-1] + order[:2]:
            times[name].append(timed(runs[name]))
    report(times, count, args)
    shutil.rmtree(work, ignore_errors=True)


def report(times: dict, count: int, args) -> None:
    rows = {}
    for name, pairs in times.items():
        wall = statistics.median(w for w, _ in pairs)
        cpu = statistics.median(c for _, c in pairs)
        rows[name] = {"images_per_s": count / wall, "wall_s": wall, "cpu_s": cpu, "rounds": pairs}
    base = rows["predict_layers"]
    for name, row in rows.items():
        row["wall_ratio_to_predict_layers"] = row["wall_s"] / base["wall_s"]
        row["cpu_ratio_to_predict_layers"] = row["cpu_s"] / base["cpu_s"]
        print(f"{name:16s} {row['images_per_s']:7.1f} images/s  wall {row['wall_s']:6.2f} s  cpu {row['cpu_s']:6.2f} s"
              f"  x{row['wall_ratio_to_predict_layers']:.2f} wall, x{row['cpu_ratio_to_predict_layers']:.2f} cpu")
    result = {"date": datetime.date.today().isoformat(), "images": count, "size": 224, "layers": LAYERS,
              "threads": args.threads, "batch": args.batch, "rounds": args.rounds,
              "note": "shared 2-core machine; medians of interleaved rounds", "runs": rows}
    out = ROOT / "benchmarks" / "results" / f"{result['date']}_examples_224.json"
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
