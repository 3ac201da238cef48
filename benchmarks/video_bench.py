#!/usr/bin/env python
"""Frames per minute of ``dream video`` on a 640x360 clip with the default model and settings.

Run from the repository root (not part of the test suite):

    python benchmarks/video_bench.py                 # 24 frames, flow and naive
    python benchmarks/video_bench.py --frames 48 --modes flow

The clip is made here: a 640x360 window panning 4 px a frame (and zooming in
slowly) across ``samples/hubble_deep_field.jpg``, encoded with the bundled
ffmpeg. One ``Dreamer`` (EfficientNet-Lite0, ``block5c_add``, precision
auto) is loaded first and kept; each mode then runs the whole ``dream
video`` job (decode, optical flow, dreaming, PNG frames, H.264 encode) with
the default video settings, and its wall time gives frames per minute
(model load excluded; it is reported apart). The flicker score of each mode
is reported too. Results go to ``benchmarks/results/`` as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import machine_info, peak_rss_mib  # noqa: E402

from dreamer.video import defaults  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def panning_clip(path: Path, frames: int, size=(640, 360), step: int = 4) -> None:
    """A 640x360 camera move over the Hubble deep field: a pan with a slow zoom."""
    import cv2

    from dreamer.images import load_image
    from dreamer.video.media import write_video

    source = (load_image(ROOT / "samples" / "hubble_deep_field.jpg").rgb * 255).astype(np.uint8)
    width, height = size

    def frame(i: int) -> np.ndarray:
        scale = 1.0 + 0.004 * i
        matrix = np.array([[scale, 0, -(100 + step * i) * scale], [0, scale, -200 * scale]], np.float32)
        return cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_LINEAR)

    write_video((frame(i) for i in range(frames)), path, fps=24, crf=18)


def run_mode(dreamers, clip: Path, out_dir: Path, flow: bool, seed: int) -> dict:
    from dreamer.video import jobs
    from dreamer.video.render import Coherence

    config = replace(defaults.VIDEO_CONFIG, seed=seed)
    coherence = Coherence(flow=flow)
    output = jobs.Output(frames=out_dir / f"frames_{flow}", video=out_dir / f"dreamed_{flow}.mp4")
    started = time.perf_counter()
    summary = jobs.video(clip, output, dreamers, config, jobs.VideoRun(coherence))
    seconds = time.perf_counter() - started
    return {"mode": "flow" if flow else "naive", "frames": summary.frames, "seconds": round(seconds, 2),
            "frames_per_minute": round(60 * summary.frames / seconds, 1), "flicker": round(summary.flicker, 3),
            "input_flicker": round(summary.input_flicker, 3)}


def warm(dreamer):
    """The Dreamer with its gradient compiled (part of the load time, not of the frames)."""
    dreamer.gradient  # noqa: B018
    return dreamer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--modes", default="flow,naive", help="flow, naive or both (comma-separated)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="JSON file [default: benchmarks/results/...]")
    args = parser.parse_args()
    from dreamer.api import Dreamer
    from dreamer.video import jobs
    from dreamer.video.render import Coherence
    from dreamer.video.schedule import make_schedule

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        panning_clip(clip, args.frames)
        started = time.perf_counter()
        dreamers = jobs.make_dreamers(make_schedule([], []), lambda _spec, _adapter: warm(Dreamer()))
        load_seconds = time.perf_counter() - started
        runs = [run_mode(dreamers, clip, tmp, mode == "flow", args.seed) for mode in args.modes.split(",")]
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": machine_info(),
        "settings": {"clip": "640x360, 24 fps", "frames": args.frames, "model": "efficientnet-lite0",
                     "layer": "block5c_add", "config": asdict(defaults.VIDEO_CONFIG),
                     "coherence": asdict(Coherence()), "later_iterations": "iterations x (1 - blend)"},
        "precision": dreamers.for_frame(0).gradient.precision,
        "model_load_and_compile_seconds": round(load_seconds, 2),
        "runs": runs,
        "peak_rss_mib": round(peak_rss_mib()),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    for run in runs:
        print(f"{run['mode']:>5}: {run['frames']} frames in {run['seconds']} s = {run['frames_per_minute']} "
              f"frames/min, flicker {run['flicker']} (input {run['input_flicker']})")
    print(f"model load + compile {results['model_load_and_compile_seconds']} s, peak RSS "
          f"{results['peak_rss_mib']} MiB, load average {results['load_before']} -> {results['load_after']}")
    out = args.out or RESULTS / f"{results['date']}_video_640x360.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
