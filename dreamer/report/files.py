"""The report's image files, each written once and kept: thumbnails, patches, feature renders; histograms.

Names are keys: a thumbnail by the image's content hash, a patch by the hash
and the map position, a render by layer, channel and render settings. A file
that exists is what it would be again, so a rerun skips it (``missing``).
Histograms depend on the whole folder and are drawn anew each run (cheap).
All writes are atomic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from dreamer.fileio import atomic_path
from dreamer.outputs import safe_name

#: The folder under the site that holds every image file.
FILES = "files"


def thumb_name(image_hash: str) -> str:
    return f"{FILES}/thumbs/{image_hash[:16]}.jpg"


def patch_name(layer: str, image_hash: str, position: tuple[int, int]) -> str:
    return f"{FILES}/patches/{safe_name(layer)}/{image_hash[:16]}_{position[0]}_{position[1]}.jpg"


def render_name(layer: str, channel: int, steps: int, side: int) -> str:
    return f"{FILES}/renders/{steps}steps_{side}px/{safe_name(layer)}/{channel}.png"


def attribution_name(image_hash: str, method: str) -> str:
    return f"{FILES}/attributions/{image_hash[:16]}_{safe_name(method)}.png"


def hist_name(layer: str, channel: int) -> str:
    return f"{FILES}/hist/{safe_name(layer)}/{channel}.png"


def missing(site: Path, name: str) -> bool:
    return not (site / name).is_file()


def save(image, site: Path, name: str) -> None:
    """Write a PIL image under the site (folders made, atomically)."""
    final = site / name
    final.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(final) as tmp:
        image.save(tmp, quality=88) if final.suffix == ".jpg" else image.save(tmp)


def histogram(values: np.ndarray, marks: Sequence[float] = (), size: tuple[int, int] = (176, 56), bins: int = 32):
    """A small bar chart of ``values`` (grey), with ``marks`` (the top images' scores) as red ticks below; PIL."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return image
    low, high = float(values.min()), float(values.max())
    high = high if high > low else low + 1.0
    counts, _ = np.histogram(values, bins=bins, range=(low, high))
    bar = width / bins
    for i, count in enumerate(counts):
        top = (height - 8) * (1 - count / max(1, counts.max()))
        draw.rectangle([i * bar, top, (i + 1) * bar - 1, height - 8], fill=(120, 120, 120))
    for mark in marks:
        x = (float(mark) - low) / (high - low) * (width - 1)
        draw.line([x, height - 7, x, height - 1], fill=(200, 30, 30))
    return image


def render_missing(adapter, layer: str, channels: Sequence[int], site: Path, settings: tuple[int, int]) -> int:
    """Render (Fourier feature visualisation) the channels whose render file is missing; return how many ran.

    ``settings`` is (Adam steps, side in pixels).
    """
    from dataclasses import replace

    from dreamer.atlas import render_channels_fourier
    from dreamer.images import to_pil
    from dreamer.param.settings import FOURIER_ATLAS_CONFIG

    steps, side = settings
    todo = [c for c in channels if missing(site, render_name(layer, c, steps, side))]
    if todo:
        tiles = render_channels_fourier(adapter, layer, todo, replace(FOURIER_ATLAS_CONFIG, steps=steps), side)
        for channel, tile in zip(todo, tiles):
            save(to_pil(tile), site, render_name(layer, channel, steps, side))
    return len(todo)
