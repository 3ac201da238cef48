"""The coin question, reproduced: at which layer does EfficientNet-Lite0 stop telling "h" from its mirror image?

Draws COUNT images of the letter "h" with Pillow's built-in font at random
positions, sizes and colours (seeded), probes them against their mirror
images (``hflip``) on the embedded EfficientNet-Lite0, and writes the plot
and the JSON to docs/img/, a sheet of example inputs beside them, and
the table (with the wall-clock time) on stdout.

    python experiments/probe_letters.py            # 300 letters, as in docs/experiments/probe.md
    python experiments/probe_letters.py --count 60 --out /tmp/letters
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dreamer.probe import ProbeSettings, probe  # noqa: E402
from dreamer.probe.plot import save_plot  # noqa: E402
from dreamer.probe.report import table_text, write_json  # noqa: E402


def letter_images(count: int, letter: str = "h", size: int = 224, seed: int = 0) -> list[np.ndarray]:
    """``count`` size x size RGB uint8 images of ``letter``: random position, height, ink and background."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        background = rng.integers(0, 256, 3)
        ink = rng.integers(0, 256, 3)
        while np.abs(background - ink).sum() < 250:
            ink = rng.integers(0, 256, 3)
        image = Image.new("RGB", (size, size), tuple(int(v) for v in background))
        draw = ImageDraw.Draw(image)
        font = ImageFont.load_default(size=int(rng.integers(size // 4, int(size * 0.9))))
        left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
        x = int(rng.integers(-left, max(1 - left, size - right)))
        y = int(rng.integers(-top, max(1 - top, size - bottom)))
        draw.text((x, y), letter, font=font, fill=tuple(int(v) for v in ink))
        images.append(np.asarray(image))
    return images


def example_sheet(images: list[np.ndarray], columns: int = 6, tile: int = 96) -> Image.Image:
    """The first images (top row) above their mirror images (bottom row)."""
    sheet = Image.new("RGB", (columns * (tile + 4) + 4, 2 * (tile + 4) + 4), "white")
    for i, image in enumerate(images[:columns]):
        for row, picture in enumerate((image, image[:, ::-1])):
            sheet.paste(Image.fromarray(picture).resize((tile, tile)), (4 + i * (tile + 4), 4 + row * (tile + 4)))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--model", default="efficientnet-lite0")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    images = letter_images(args.count)
    example_sheet(images).save(args.out / "probe_letters_examples.png")
    started = time.perf_counter()
    result = probe(images, model=args.model, transform="hflip", settings=ProbeSettings(),
                   progress=lambda stage, done, total: print(f"\r{stage} {done}/{total}", end="", file=sys.stderr))
    print(file=sys.stderr)
    save_plot(result, args.out / "probe_letters_h.png",
              title=f"{result.model}: 'h' versus its mirror image ({args.count} images, 224 px)")
    write_json(result, args.out / "probe_letters_h.json")
    print(table_text(result))
    print(f"wall clock, model load included: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
