"""Does EfficientNet-Lite0 treat a horizontal flip differently from a vertical one? Invariance by depth on photos.

ImageNet training flips images left-right at random, never upside down. This
probes the sample photos (each cut into CROPS random square crops, seeded,
so there are enough images to compare) with ``hflip`` and with ``vflip``,
and draws both invariance curves (pooled activations and whole maps) in one
figure, docs/img/probe_photos_hflip_vflip.png, with the JSON of both
runs beside it. Only invariance is shown: crops of one photo are not
independent images, so a cross-validated classifier on them would flatter.

    python experiments/probe_photos.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dreamer.fileio import atomic_path  # noqa: E402
from dreamer.images import load_image  # noqa: E402
from dreamer.probe import ProbeSettings, probe  # noqa: E402
from dreamer.probe.report import table_text  # noqa: E402

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "coins.png", "hubble_deep_field.jpg", "rocket.jpg")


def random_crops(image: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` square crops, each 60-100% of the short side, at random places."""
    height, width = image.shape[:2]
    crops = []
    for _ in range(count):
        side = int(rng.uniform(0.6, 1.0) * min(height, width))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        crops.append(image[top:top + side, left:left + side])
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=8)
    parser.add_argument("--samples", type=Path, default=Path("samples"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    images = [crop for name in PHOTOS for crop in random_crops(load_image(args.samples / name).rgb, args.crops, rng)]
    results = {}
    for transform in ("hflip", "vflip"):
        results[transform] = probe(images, transform=transform, settings=ProbeSettings())
        print(table_text(results[transform]), end="\n\n")
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "probe_photos_hflip_vflip.png", len(images))
    with atomic_path(args.out / "probe_photos_hflip_vflip.json") as tmp:
        tmp.write_text(json.dumps({k: r.to_dict() for k, r in results.items()}, indent=2, default=str) + "\n")


def plot(results: dict, path: Path, count: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = results["hflip"].layers
    positions = range(len(layers))
    figure, axes = plt.subplots(figsize=(0.42 * len(layers) + 3, 4.6))
    for transform, colour in (("hflip", "tab:blue"), ("vflip", "tab:red")):
        scores = results[transform].layers
        axes.plot(positions, [s.invariance for s in scores], "-o", color=colour, markersize=4,
                  label=f"{transform}: invariance, pooled")
        axes.plot(positions, [np.nan if s.invariance_map is None else s.invariance_map for s in scores], "--s",
                  color=colour, markersize=4, label=f"{transform}: invariance, whole map")
    axes.set_xticks(list(positions), [layer.name for layer in layers], rotation=60, ha="right", fontsize=8)
    axes.set_ylabel("invariance (1: unchanged, 0: like another image)")
    axes.set_ylim(-0.05, 1.05)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    axes.set_title(f"efficientnet-lite0: hflip versus vflip on {count} crops of the 6 sample photos", fontsize=10)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


if __name__ == "__main__":
    main()
