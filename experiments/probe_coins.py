"""The coin question on real coins: twelve Greek coins facing right against their mirror images.

Probes samples/coins_right/ (cut from samples/coins.png by
``experiments/coin_crops.py``) with ``hflip`` on the embedded
EfficientNet-Lite0, and writes the plot, the JSON and a sheet of the coins
above their mirror images to docs/img/, the table on stdout.

    python experiments/probe_coins.py
    python experiments/probe_coins.py --out /tmp/coins --augment 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dreamer.probe import ProbeSettings, probe  # noqa: E402
from dreamer.probe.plot import save_plot  # noqa: E402
from dreamer.probe.report import table_text, write_json  # noqa: E402


def coin_sheet(paths: list[Path], tile: int = 72) -> Image.Image:
    """The coins (top row) above their mirror images (bottom row)."""
    sheet = Image.new("L", (len(paths) * (tile + 4) + 4, 2 * (tile + 4) + 4), 255)
    for i, path in enumerate(paths):
        coin = Image.open(path).convert("L").resize((tile, tile), Image.LANCZOS)
        for row, picture in enumerate((coin, ImageOps.mirror(coin))):
            sheet.paste(picture, (4 + i * (tile + 4), 4 + row * (tile + 4)))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coins", type=Path, default=ROOT / "samples" / "coins_right")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--augment", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    paths = sorted(args.coins.glob("*.png"))
    coin_sheet(paths).save(args.out / "probe_coins_examples.png", optimize=True)
    started = time.perf_counter()
    result = probe(paths, transform="hflip", settings=ProbeSettings(augment=args.augment))
    save_plot(result, args.out / "probe_coins_hflip.png",
              title=f"{result.model}: {len(paths)} coins versus their mirror images (224 px)")
    write_json(result, args.out / "probe_coins_hflip.json")
    print(table_text(result))
    print(f"wall clock, model load included: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
