"""Cut samples/coins.png into single coins, each turned upright by a hand-chosen angle.

samples/coins.png (Greek coins from Pompeii, Brooklyn Museum, no known
copyright restrictions) shows 24 coins. Each was looked at, enlarged, by
eye; the twelve whose design is a head in profile facing right were kept
and each turned (counter-clockwise, degrees) until the profile stands
upright. The others were left out: four heads face left (1, 11, 20, 22),
two are faces seen from the front (2, 15), three are figures (3, 4, 5),
one an animal (23), and two are too worn to tell (7, 19).

The crops are what ``dream probe --transform hflip samples/coins_right/``
reads: a dozen real coins all facing one way, against their mirror images.

    python experiments/coin_crops.py                   # writes samples/coins_right/coin_NN.png
    python experiments/coin_crops.py --out /tmp/coins --size 160
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

SOURCE = Path(__file__).resolve().parents[1] / "samples" / "coins.png"

#: coin number (row by row, left to right, from 0) -> (centre x, centre y, radius) in samples/coins.png.
COINS = {
    0: (44, 54, 23), 1: (100, 56, 21), 2: (155, 51, 25), 3: (216, 51, 25), 4: (276, 53, 22), 5: (335, 44, 30),
    6: (46, 125, 23), 7: (103, 126, 21), 8: (154, 127, 21), 9: (206, 124, 22), 10: (270, 119, 27),
    11: (336, 124, 21), 12: (44, 197, 21), 13: (102, 196, 23), 14: (154, 198, 21), 15: (213, 193, 25),
    16: (274, 194, 24), 17: (347, 187, 33), 18: (46, 260, 29), 19: (114, 266, 23), 20: (171, 263, 28),
    21: (244, 264, 26), 22: (301, 265, 26), 23: (358, 268, 24),
}

#: The coins kept (a head in profile facing right) and the turn that makes each upright, chosen by eye.
FACING_RIGHT = {0: 0, 6: 0, 8: 25, 9: 10, 10: 25, 12: 0, 13: 0, 14: 0, 16: 10, 17: 0, 18: 0, 21: 0}

#: The margin around a coin's radius that the crop keeps.
MARGIN = 1.15


def coin_crop(photo: Image.Image, number: int, angle: float, size: int) -> Image.Image:
    """Coin ``number`` turned ``angle`` degrees about its own centre, cut square and scaled to ``size``."""
    x, y, radius = COINS[number]
    turned = photo.rotate(angle, resample=Image.BICUBIC, center=(x, y))
    half = round(radius * MARGIN)
    return turned.crop((x - half, y - half, x + half, y + half)).resize((size, size), Image.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SOURCE.parent / "coins_right")
    parser.add_argument("--size", type=int, default=128, help="side of each crop in pixels")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    photo = Image.open(SOURCE).convert("L")
    for number, angle in FACING_RIGHT.items():
        coin_crop(photo, number, angle, args.size).save(args.out / f"coin_{number:02d}.png", optimize=True)
    print(f"wrote {len(FACING_RIGHT)} coins to {args.out}")


if __name__ == "__main__":
    main()
