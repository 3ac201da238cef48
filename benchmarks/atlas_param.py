#!/usr/bin/env python
"""The atlas' two parameterisations, measured side by side: activation, margin, grain and time.

Run from the repository root (not part of the test suite):

    python benchmarks/atlas_param.py                  # 16 channels of block5c_add, 128 px, 3 rounds
    python benchmarks/atlas_param.py --rounds 1 --channels 0-3    # a quick look
    python benchmarks/atlas_param.py --fft-decays 1.0,1.25        # also fft at other spectrum decays

Both sheets are rendered by the functions ``dream atlas`` uses
(``dreamer.atlas.render_channels`` for ``pixels`` with ``ATLAS_CONFIG``;
``render_channels_fourier`` for ``fft``), in ONE process, on one model
object, in interleaved rounds (pixels then fft, then fft then pixels, ...),
after a warm-up of each, so load from other processes hits both alike.
Times are medians over rounds. The fft's step count is ``--fft-steps``, or
with ``match`` (the default) chosen from a calibration (the time of a
pixel sheet, over the time of an fft step, timed between the first and the
last step of a 24-step sheet, so without its set-up) so that its sheet takes
about as long as the pixel sheet. ``--fft-decays`` adds fft sheets whose spectrum
falls as 1/f^d for each d given (same steps), as further interleaved entries.

Per tile (rendered for channel c), on the untransformed 128 px tile,
float32, the mean activation of each of the rendered channels:

- activation: the tile's mean activation of its own channel c;
- margin: that, minus the largest activation of channel c on any other tile
  of the sheet (positive: the tile is the sheet's best for its channel);
- grain: the share of the tile's spectral energy (per colour channel, mean
  removed, summed over RGB) at radial frequencies above half the Nyquist
  frequency (above 0.25 cycles per pixel).

Writes JSON to ``benchmarks/results/`` and both sheets (JPEG) to
``docs/img/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def grain(tile: np.ndarray) -> float:
    """The share of spectral energy above half Nyquist (radial frequency > 0.25 cycles/px), DC removed."""
    height, width = tile.shape[:2]
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    high = np.sqrt(fy * fy + fx * fx) > 0.25
    total = fine = 0.0
    for c in range(tile.shape[2]):
        plane = tile[..., c].astype(np.float64)
        power = np.abs(np.fft.fft2(plane - plane.mean())) ** 2
        total += power.sum()
        fine += power[high].sum()
    return float(fine / total) if total > 0 else 0.0


def activation_matrix(adapter, layer: str, channels, tiles) -> np.ndarray:
    """A[i, j]: the mean activation of channel ``channels[j]`` on tile i."""
    features = adapter.feature_model([layer])
    batch = adapter.preprocess(np.stack(tiles).astype(np.float32))
    out = features(batch, training=False)
    act = np.asarray(out[layer] if isinstance(out, dict) else out, np.float64)
    return act.mean(axis=(1, 2))[:, list(channels)]


def sheet_numbers(adapter, layer, channels, tiles) -> dict:
    matrix = activation_matrix(adapter, layer, channels, tiles)
    own = np.diag(matrix)
    others = [np.max(np.delete(matrix[:, i], i)) for i in range(len(channels))]
    margins = own - np.asarray(others)
    grains = [grain(t) for t in tiles]
    return {
        "activation_mean": float(own.mean()), "activation_median": float(np.median(own)),
        "margin_mean": float(margins.mean()), "margin_median": float(np.median(margins)),
        "selective": int((margins > 0).sum()), "grain_mean": float(np.mean(grains)),
        "grain_median": float(np.median(grains)),
        "per_tile": [{"channel": int(c), "activation": float(a), "margin": float(m), "grain": float(g)}
                     for c, a, m, g in zip(channels, own, margins, grains)],
    }


def fft_step_time(adapter, layer: str, channels, size: int, steps: int) -> float:
    """Seconds per step of an fft sheet, between its first and last step (the trace excluded)."""
    from dataclasses import replace

    from dreamer.atlas import render_channels_fourier
    from dreamer.param.settings import FOURIER_ATLAS_CONFIG

    stamps = []
    render_channels_fourier(adapter, layer, channels, replace(FOURIER_ATLAS_CONFIG, steps=steps), size,
                            lambda _position, _event: stamps.append(time.perf_counter()))
    return (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer", default="block5c_add")
    parser.add_argument("--channels", default="0-15")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fft-steps", default="match", help="a number, or 'match' (same time as pixels)")
    parser.add_argument("--fft-decays", default="", help="extra fft entries: decay powers, e.g. 1.0,1.25")
    parser.add_argument("--out", default=None)
    parser.add_argument("--sheets", default="docs/img", help="folder for the two sheets ('' for none)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    from dataclasses import replace

    from dreamer.atlas import contact_sheet, render_channels, render_channels_fourier
    from dreamer.atlas_settings import ATLAS_CONFIG
    from dreamer.fileio import default_cache_dir
    from dreamer.models import load_model
    from dreamer.objectives import parse_channel_list
    from dreamer.param.settings import FOURIER_ATLAS_CONFIG

    args = parse_args(argv)
    channels = list(parse_channel_list(args.channels))
    adapter = load_model("efficientnet-lite0", default_cache_dir())

    def pixels():
        return render_channels(adapter, args.layer, channels, ATLAS_CONFIG, args.size)

    def fft(steps, decay=FOURIER_ATLAS_CONFIG.decay_power):
        config = replace(FOURIER_ATLAS_CONFIG, steps=steps, decay_power=decay)
        return render_channels_fourier(adapter, args.layer, channels, config, args.size)

    start = time.perf_counter()
    render_channels(adapter, args.layer, channels[:1], ATLAS_CONFIG, args.size)  # warm-up: trace, first calls
    fft(2)
    print(f"warm-up {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if args.fft_steps == "match":
        t0 = time.perf_counter()
        pixels()
        pixel_time = time.perf_counter() - t0
        step_time = fft_step_time(adapter, args.layer, channels, args.size, 24)
        steps = max(1, round(pixel_time / step_time))
        print(f"calibration: pixels {pixel_time:.1f} s, fft {step_time * 1000:.0f} ms/step -> {steps} steps",
              file=sys.stderr)
    else:
        steps = int(args.fft_steps)

    methods = {"pixels": pixels, "fft": lambda: fft(steps)}
    for decay in [float(d) for d in args.fft_decays.split(",") if d.strip()]:
        methods[f"fft-decay{decay:g}"] = lambda d=decay: fft(steps, d)
    times = {name: [] for name in methods}
    tiles = {}
    for round_index in range(args.rounds):
        order = list(methods) if round_index % 2 == 0 else list(methods)[::-1]
        for name in order:
            t0 = time.perf_counter()
            tiles[name] = methods[name]()
            times[name].append(time.perf_counter() - t0)
            print(f"round {round_index + 1}: {name} {times[name][-1]:.1f} s", file=sys.stderr)

    results = {
        "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "layer": args.layer, "channels": args.channels, "size": args.size, "rounds": args.rounds,
        "pixels_config": {"iterations": ATLAS_CONFIG.iterations, "octaves": ATLAS_CONFIG.octaves,
                          "laplacian_levels": ATLAS_CONFIG.laplacian_levels},
        "fft_steps": steps, "fft_decay_power": FOURIER_ATLAS_CONFIG.decay_power,
        "fft_learning_rate": FOURIER_ATLAS_CONFIG.learning_rate, "methods": list(methods),
    }
    for name in methods:
        numbers = sheet_numbers(adapter, args.layer, channels, tiles[name])
        numbers["seconds_per_sheet_median"] = statistics.median(times[name])
        numbers["seconds_per_channel_median"] = statistics.median(times[name]) / len(channels)
        numbers["seconds_per_sheet"] = times[name]
        results[name] = numbers
    report(results)
    if args.sheets:
        folder = Path(args.sheets)
        folder.mkdir(parents=True, exist_ok=True)
        for name in methods:
            sheet = contact_sheet(tiles[name], [str(c) for c in channels])
            sheet.save(folder / f"atlas_{args.layer}_{name}.jpg", quality=92)
    out = Path(args.out or Path(__file__).parent / "results" /
               f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}_atlas_param_{args.layer}.json")
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)


def report(results: dict) -> None:
    print(f"{results['layer']} channels {results['channels']}, {results['size']} px, "
          f"{results['rounds']} interleaved rounds; fft {results['fft_steps']} steps")
    print("param         activation  margin  selective  grain   s/channel")
    for name in results["methods"]:
        r = results[name]
        print(f"{name:13} {r['activation_mean']:10.2f} {r['margin_mean']:7.2f} {r['selective']:5}/"
              f"{len(r['per_tile']):<4} {r['grain_mean']:6.3f} {r['seconds_per_channel_median']:9.2f}")


if __name__ == "__main__":
    main()
