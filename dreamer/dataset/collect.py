"""One pass over a folder of images: decode, batch, run the network once for all layers, cache the stats.

``find_pictures(folder)`` lists the images (each once, by content) with
their hashes; ``square_input`` decodes one the way the network sees it: the
centre square, resized to ``size`` (JPEGs decoded at a reduced scale when
that is still large enough). ``collect`` runs the images whose stats are not
in the ``ActivationStore`` yet, a batch at a time (the next batch decoded in
threads while the network runs), and stores each batch's stats per layer,
so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dreamer.dataset.store import ActivationStore, Stats, reduce_map
from dreamer.errors import DreamerError
from dreamer.fileio import file_digest

#: Decoding threads (Pillow releases the GIL while it decodes and resizes).
DECODE_THREADS = 2


@dataclass(frozen=True)
class Picture:
    """An image of the folder: its path and content hash."""

    path: Path
    hash: str


@dataclass(frozen=True)
class Crop:
    """Where the network's square input lies in the original image: left, top and side, in its pixels."""

    left: float
    top: float
    side: float


def find_pictures(folder: Path, recursive: bool = True) -> list[Picture]:
    """The images under ``folder`` in a stable order, a file with the same content as an earlier one left out.

    Raises:
        DreamerError: no such folder, or no image in it.
    """
    from dreamer.batch.inputs import find_inputs

    folder = Path(folder)
    if not folder.is_dir():
        raise DreamerError(f"{folder}: not a folder of images")
    found = find_inputs([str(folder)], recursive=recursive).inputs
    pictures: dict[str, Picture] = {}
    for item in found:
        digest = file_digest(item.path)  # the cache key of an image
        pictures.setdefault(digest, Picture(item.path, digest))
    if not pictures:
        raise DreamerError(f"{folder}: no images in this folder")
    return list(pictures.values())


def square_input(path: Path, size: int) -> tuple[np.ndarray, Crop]:
    """The image's centre square resized to size x size, uint8 RGB, and where that square is in the original."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        width, height = opened.size[::-1] if _rotated(opened) else opened.size
        opened.draft("RGB", (size, size))
        image = ImageOps.exif_transpose(opened).convert("RGB")
    scale = width / image.size[0]
    side = min(image.size)
    left, top = (image.size[0] - side) // 2, (image.size[1] - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR,
                                                                     reducing_gap=2.0)
    return np.asarray(square, np.uint8), Crop(left * scale, top * scale, side * scale)


def _rotated(image) -> bool:
    return image.getexif().get(0x0112, 1) in (5, 6, 7, 8)


def collect(adapter, pictures: Sequence[Picture], layers: Sequence[str], store: ActivationStore,
            settings, progress: Callable[[int, int], None] | None = None) -> int:
    """Compute and store the stats of every picture missing for any of ``layers``; return how many ran.

    A file that does not decode is passed over (and asked again on the next run).

    Args:
        settings: anything with ``size`` and ``batch`` (an ``ExamplesRequest``).
        progress: called with (images done, images to do) after each batch.
    """
    missing, layers = _missing(pictures, layers, store)
    if not missing:
        return 0
    features = feature_function(adapter, layers)
    batches = [missing[i : i + settings.batch] for i in range(0, len(missing), settings.batch)]
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        pending = _decode(pool, batches[0], settings.size)
        for number, batch in enumerate(batches):
            decoded = [(picture, future.result()) for picture, future in zip(batch, pending)]
            if number + 1 < len(batches):
                pending = _decode(pool, batches[number + 1], settings.size)
            decoded = [(picture, pixels) for picture, pixels in decoded if pixels is not None]
            if decoded:
                outputs = features(np.stack([pixels for _, pixels in decoded]))
                hashes = np.asarray([picture.hash for picture, _ in decoded])
                for layer in layers:
                    store.write(layer, Stats(hashes, *reduce_map(outputs[layer])))
            if progress is not None:
                progress(min(len(missing), (number + 1) * settings.batch), len(missing))
    return len(missing)


def _missing(pictures: Sequence[Picture], layers: Sequence[str],
             store: ActivationStore) -> tuple[list[Picture], list[str]]:
    """The pictures missing from any layer's cache, and the layers missing any picture (those alone run)."""
    done = {layer: store.done(layer) for layer in layers}
    needed = [layer for layer in layers if any(p.hash not in done[layer] for p in pictures)]
    return [p for p in pictures if any(p.hash not in done[layer] for layer in needed)], needed


def _decode(pool: ThreadPoolExecutor, batch: Sequence[Picture], size: int) -> list:
    return [pool.submit(_pixels_or_none, picture.path, size) for picture in batch]


def _pixels_or_none(path: Path, size: int) -> np.ndarray | None:
    """``square_input``'s pixels, or None for a file Pillow can't decode after all."""
    from PIL import Image

    try:
        return square_input(path, size)[0]
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return None


def feature_function(adapter, layers: Sequence[str]) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """uint8 NHWC batch -> {layer: numpy activations}: the adapter's preprocessing, then one compiled call."""
    model = adapter.feature_model(list(layers))

    def features(pixels: np.ndarray) -> dict[str, np.ndarray]:
        batch = np.asarray(adapter.preprocess(pixels.astype(np.float32) / 255.0))
        return {name: np.asarray(value) for name, value in model.predict_on_batch(batch).items()}

    return features
