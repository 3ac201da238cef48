"""Does an exported head keep its promise? Train on letter pairs, test on letters it never saw.

Probes COUNT images of "h" (``probe_letters.letter_images``, seed 0) against
their mirror images on the embedded EfficientNet-Lite0 with ``--export``,
loads the exported model with plain ``keras.models.load_model`` and scores
HELD_OUT new letters (seed 1) and their mirror images: the held-out accuracy
should match the cross-validated accuracy the probe reported.

    python experiments/probe_export_letters.py                 # 80 letters, 200 held out, 128 px
    python experiments/probe_export_letters.py --count 40 --held-out 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from probe_letters import letter_images  # noqa: E402

from dreamer.probe import ProbeSettings, probe  # noqa: E402


def held_out_accuracy(path: Path, images: list[np.ndarray]) -> float:
    """The exported model's accuracy on ``images`` (label 0) and their mirror images (label 1)."""
    import keras

    model = keras.models.load_model(path)
    batch = np.stack(images).astype(np.float32)
    scores = model.predict(np.concatenate([batch, batch[:, :, ::-1]]), verbose=0)[:, 0]
    truth = np.repeat([False, True], len(images))
    return float(np.mean((scores > 0.5) == truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "head.keras"
        result = probe(letter_images(args.count, seed=0), transform="hflip", export=path,
                       settings=ProbeSettings(size=args.size))
        exported = result.export
        print(result.verdict.text)
        accuracy = held_out_accuracy(path, letter_images(args.held_out, seed=1))
    low, high = exported["interval"]
    print(f"exported head at `{exported['layer']}` ({exported['head']}): cross-validated {exported['accuracy']:.1%} "
          f"(95% interval {low:.0%}-{high:.0%}, {args.count} letters); held out ({args.held_out} new letters and "
          f"their mirror images): {accuracy:.1%}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
