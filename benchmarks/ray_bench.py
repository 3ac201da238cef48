#!/usr/bin/env python
"""What the Ray executor costs and gains: the same 20-image batch, local and on Ray.

Run from the repository root with Ray installed (``pip install -e ".[ray]"``):

    python benchmarks/ray_bench.py                  # 20 images of 512 px, default model and settings
    python benchmarks/ray_bench.py --rounds 2 --size 384 --iterations 5

Batch: the images are written to a folder and rendered by the real batch
(``dreamer.batch``: claims, result files, manifest) into a fresh output
folder, its workers built by ``build_worker`` from the recipe, as ``dream
photos/ -o out/ [--executor ray --workers N]`` does. Configurations,
interleaved in rounds so that load from other processes hits them alike: the
local executor (everything in this process), and Ray with 1 and 2 workers on
a local Ray instance started for each run. For each:

- wall: from making the executor to the last result, start-up included (Ray's
  start, the actors' TensorFlow import and model load);
- steady: images per minute between the first and the last result (start-up
  excluded);
- per worker: images and the median seconds a worker spent on one image.

Overhead: an echo worker (no model) returns a result as large as a rendered
PNG for each input; its mean round trip per job through 1 Ray worker, minus
the same through the local executor, is what Ray adds per image (submission,
the input's and the result's transfer, scheduling), separately from any
slowdown of the rendering itself.

Rendering inside an actor: the same dream, timed in this process and in one
Ray actor alternately (``--actor-rounds`` rounds of 3 dreams each), so that
load from other processes hits both alike: what running in a Ray worker
process costs the rendering itself.

Driver: what the driver does per result besides Ray, approximated without
the batch package: hash the result, write it to a temporary file, fsync,
rename, and append a JSON line to a manifest with fsync (``--result-kib``
bytes, 50 results); median and 90th percentile milliseconds.

Results go to ``benchmarks/results/<date>_ray.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dreamer.executors import Job, LocalExecutor, Outcome  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SAMPLES = ROOT / "samples"


@dataclass(frozen=True)
class DreamWorker:
    """Renders PNG/JPEG bytes with one loaded model; returns PNG bytes."""

    model: str
    settings: dict = field(default_factory=dict)

    def __call__(self):
        from PIL import Image

        from dreamer.api import Dreamer
        from dreamer.engine import DreamConfig

        dreamer = Dreamer(self.model)
        config = DreamConfig(**self.settings)

        def render(job: Job) -> Outcome:
            start, cpu = time.perf_counter(), time.process_time()
            result = dreamer.dream(Image.open(io.BytesIO(job.data)), config)
            buffer = io.BytesIO()
            result.save(buffer, "PNG")
            return Outcome(job.key, data=buffer.getvalue(), seconds=time.perf_counter() - start,
                           extra={"cpu_s": time.process_time() - cpu, "nice": os.nice(0)})

        return render


@dataclass(frozen=True)
class EchoWorker:
    """No model: answers each job with ``result_bytes`` bytes, as a renderer would."""

    result_bytes: int

    def __call__(self):
        payload = os.urandom(self.result_bytes)
        return lambda job: Outcome(job.key, data=payload)


def batch_images(count: int, size: int) -> list[Job]:
    """``count`` distinct images from the samples: each sample, turned and cropped, long side ``size``, as JPEG."""
    from PIL import Image, ImageOps

    sources = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    jobs = []
    for i in range(count):
        image = Image.open(sources[i % len(sources)]).convert("RGB")
        variant = i // len(sources)
        if variant % 2:
            image = ImageOps.mirror(image)
        if variant >= 2:
            w, h = image.size
            image = image.crop((w // 8, h // 8, w - w // 8, h - h // 8))
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        jobs.append(Job(f"{i:02d}", f"{sources[i % len(sources)].name}#{variant}", buffer.getvalue()))
    return jobs


def run_batch(make_executor, folder: Path, recipe: dict) -> dict:
    """Wall and steady throughput of one batch of ``folder`` into a fresh output folder, and each worker's share."""
    import shutil

    from dreamer.batch import Batch, find_inputs, plan_items, result_names
    from dreamer.executors.tally import Tally

    found = find_inputs([str(folder)])
    out = folder.parent / "out"
    shutil.rmtree(out, ignore_errors=True)
    finished = []
    start = time.perf_counter()
    batch = Batch(out, plan_items(found.inputs, result_names(found.inputs, "m", "o")), recipe,
                  report=lambda event: event.kind == "finished" and finished.append(time.perf_counter() - start))
    with Tally(make_executor()) as executor:
        summary = batch.run(executor)
    assert summary.rendered == len(found.inputs) and not summary.failed
    sizes = [path.stat().st_size for path in summary.written]
    return {
        "wall_s": round(finished[-1], 2),
        "images_per_min_wall": round(60 * len(finished) / finished[-1], 2),
        "images_per_min_steady": round(60 * (len(finished) - 1) / (finished[-1] - finished[0]), 2),
        "first_result_s": round(finished[0], 2),
        "result_kib_mean": round(statistics.mean(sizes) / 1024, 1),
        "per_worker": {name: {"images": share.images, "mean_s": round(share.seconds / share.images, 3)}
                       for name, share in sorted(executor.shares.items())},
    }


def round_trip_ms(make_executor, jobs: list[Job], repeats: int) -> float:
    """Mean milliseconds per job, after one warm-up job, of ``repeats`` passes over ``jobs``."""
    with make_executor() as executor:
        list(executor.map(jobs[:1]))
        start = time.perf_counter()
        for _ in range(repeats):
            for _ in executor.map(jobs):
                pass
        return 1000 * (time.perf_counter() - start) / (repeats * len(jobs))


def measure(args) -> dict:
    """The sections asked for (``--sections``), each a key of the results."""
    jobs = batch_images(args.images, args.size)
    results = {}
    if "batch" in args.sections:
        rounds = batch_rounds(args, jobs)
        results.update(rounds=rounds, median=medians(rounds))
    if "overhead" in args.sections:
        results["overhead_per_image"] = echo_overhead(args, jobs)
    if "driver" in args.sections:
        results["driver_per_result"] = driver_write_ms(args.result_kib * 1024)
    if "actor" in args.sections:
        results["render_in_actor"] = actor_versus_local(args, jobs)
    return results


def batch_rounds(args, jobs: list[Job]) -> dict[str, list[dict]]:
    import functools
    import tempfile

    from dreamer.batch import make_recipe
    from dreamer.batch.worker import build_worker
    from dreamer.executors.ray import RayExecutor

    recipe = make_recipe(args.model, {"iterations": args.iterations, "octaves": args.octaves, "seed": 0})
    worker = functools.partial(build_worker, recipe)
    configurations = {
        "local": lambda: LocalExecutor(worker),
        "ray, 1 worker": lambda: RayExecutor(worker, workers=1),
        "ray, 2 workers": lambda: RayExecutor(worker, workers=2),
    }
    rounds: dict[str, list[dict]] = {name: [] for name in configurations}
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "in"
        folder.mkdir()
        for job in jobs:
            (folder / f"{job.key}.jpg").write_bytes(job.data)
        for r in range(args.rounds):
            for name, make in configurations.items():
                rounds[name].append(run_batch(make, folder, recipe))
                print(f"round {r + 1} {name}: {rounds[name][-1]}", flush=True)
    return rounds


def echo_overhead(args, jobs: list[Job]) -> dict:
    from dreamer.executors.ray import RayExecutor

    echo = EchoWorker(args.result_kib * 1024)
    return {
        "local_ms": round(round_trip_ms(lambda: LocalExecutor(echo), jobs, args.echo_repeats), 3),
        "ray_1_worker_ms": round(round_trip_ms(lambda: RayExecutor(echo, workers=1), jobs, args.echo_repeats), 3),
        "input_kib_mean": round(statistics.mean(len(j.data) for j in jobs) / 1024, 1),
        "result_kib": args.result_kib,
    }


def driver_write_ms(size: int, count: int = 50) -> dict:
    """Milliseconds per result to hash, write (fsync, rename) and record it in a manifest (fsync)."""
    import hashlib
    import tempfile

    data, times = os.urandom(size), []
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as folder:
        for i in range(count):
            start = time.perf_counter()
            digest = hashlib.sha256(data).hexdigest()
            part = Path(folder) / f".{i}.part"
            with open(part, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            part.rename(Path(folder) / f"{i}.png")
            with open(Path(folder) / "manifest.jsonl", "a") as manifest:
                manifest.write(json.dumps({"key": i, "sha256": digest, "settings": "x" * 600}) + "\n")
                manifest.flush()
                os.fsync(manifest.fileno())
            times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(times[int(0.9 * count)], 2)}


def actor_versus_local(args, jobs: list[Job]) -> dict:
    """Seconds per dream of one image here and in a Ray actor, alternating."""
    import ray

    from dreamer.executors.ray import RayExecutor

    worker = DreamWorker(args.model, {"iterations": args.iterations, "octaves": args.octaves, "seed": 0})
    job = jobs[0]
    local = worker()
    local(job)  # warm-up: tracing
    here, there, cpu_here, cpu_there = [], [], [], []
    with RayExecutor(worker, workers=1) as executor:
        nice_there = next(executor.map([job])).extra["nice"]
        for _ in range(args.actor_rounds):
            start = time.perf_counter()
            cpu_here += [local(job).extra["cpu_s"] for _ in range(3)]
            here.append((time.perf_counter() - start) / 3)
            start = time.perf_counter()
            cpu_there += [outcome.extra["cpu_s"] for outcome in executor.map([job] * 3)]
            there.append((time.perf_counter() - start) / 3)
    assert not ray.is_initialized()
    return {"local_s": round(statistics.median(here), 3), "actor_s": round(statistics.median(there), 3),
            "rounds": [[round(h, 3), round(t, 3)] for h, t in zip(here, there)],
            "actor_over_local": round(statistics.median(t / h for t, h in zip(there, here)), 3),
            "cpu_s_local": round(statistics.median(cpu_here), 3), "cpu_s_actor": round(statistics.median(cpu_there), 3),
            "nice_local": os.nice(0), "nice_actor": nice_there}


def medians(rounds: dict[str, list[dict]]) -> dict:
    keys = ("wall_s", "images_per_min_wall", "images_per_min_steady", "first_result_s")
    return {name: {k: statistics.median(run[k] for run in runs) for k in keys} for name, runs in rounds.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--size", type=int, default=512, help="long side of each image")
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--octaves", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--echo-repeats", type=int, default=10)
    parser.add_argument("--actor-rounds", type=int, default=5)
    parser.add_argument("--result-kib", type=int, default=337,
                        help="the echo worker's result size (a 512 px PNG of the default settings: 337 KiB)")
    parser.add_argument("--sections", default="batch,overhead,driver,actor", type=lambda text: text.split(","))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    results = {
        "date": started.isoformat(timespec="seconds"),
        "settings": vars(args),
        "cpus": len(os.sched_getaffinity(0)),
        "load_before": os.getloadavg(),
        **measure(args),
        "load_after": os.getloadavg(),
    }
    out = Path(args.out) if args.out else RESULTS / f"{started:%Y-%m-%d}_ray.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    for key in ("median", "overhead_per_image", "render_in_actor"):
        if key in results:
            print(json.dumps(results[key], indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
