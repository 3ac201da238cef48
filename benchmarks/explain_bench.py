#!/usr/bin/env python
"""dream explain: seconds per image for each attribution method on the default model.

Run from the repository root (not part of the test suite):

    python benchmarks/explain_bench.py                     # every method, samples/chelsea.png, 3 rounds
    python benchmarks/explain_bench.py --rounds 1 --methods gradcam,ig
    python benchmarks/explain_bench.py --check             # also the trust checks' time

Each method's map is made by ``dreamer.attribution.explain_image`` (what
``dream explain`` runs), on ONE model object, after one warm-up of every
method (tracing, first-call costs), in interleaved rounds (the method order
reversed every other round), so load from other processes hits them alike.
Reported per method: the median over rounds of the wall time and of this
process's CPU time per image, at the default settings (224 px short side,
24 samples, batches of 16, 64 Score-CAM channels, a 15% occlusion patch).
The machine these numbers come from may be shared: say so when quoting them.

Writes JSON to ``benchmarks/results/<date>_explain_efficientnet-lite0.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path


def measure(adapter, photo, method: str, settings, check: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one image's map (and its checks, with ``check``)."""
    from dreamer.attribution import explain_image

    wall, cpu = time.perf_counter(), time.process_time()
    explain_image(adapter, photo, [method], settings=settings, check=check)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="samples/chelsea.png")
    parser.add_argument("--methods", default="all")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    from dreamer.api import quiet_tensorflow_import

    quiet_tensorflow_import()
    from dreamer.attribution import ExplainSettings, parse_methods
    from dreamer.fileio import default_cache_dir
    from dreamer.images import load_image
    from dreamer.models import DEFAULT_MODEL, load_model

    adapter = load_model(DEFAULT_MODEL, default_cache_dir())
    photo = load_image(args.image).rgb
    methods = list(parse_methods([args.methods]))
    settings = ExplainSettings()
    for method in methods:  # warm-up
        measure(adapter, photo, method, settings, args.check)
    times: dict[str, list[tuple[float, float]]] = {method: [] for method in methods}
    for round_index in range(args.rounds):
        for method in (methods if round_index % 2 == 0 else methods[::-1]):
            times[method].append(measure(adapter, photo, method, settings, args.check))
            print(f"round {round_index + 1}: {method:<22} {times[method][-1][0]:7.2f} s wall "
                  f"{times[method][-1][1]:7.2f} s CPU", flush=True)
    rows = {method: {"wall_s": statistics.median(w for w, _ in runs), "cpu_s": statistics.median(c for _, c in runs)}
            for method, runs in times.items()}
    print(f"\n{'method':<22}{'wall s/image':>14}{'CPU s/image':>13}   (medians of {args.rounds} rounds)")
    for method, row in rows.items():
        print(f"{method:<22}{row['wall_s']:>14.2f}{row['cpu_s']:>13.2f}")
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": platform.platform(),
              "cpus": os.cpu_count(), "image": args.image, "rounds": args.rounds, "check": args.check,
              "settings": settings.as_dict(), "per_method": rows}
    out = Path(f"benchmarks/results/{datetime.date.today().isoformat()}_explain_{DEFAULT_MODEL}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
