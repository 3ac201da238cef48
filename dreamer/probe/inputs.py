"""The probe's inputs: image lists from files and folders, loaded as square batches.

A probe works on square images of one size (224 px by default): each image's
short side is scaled to the size and the centre square is cut out, as
``dream classify`` does. Images are loaded a batch at a time, so a few
hundred files never sit in memory at once.

``pair_by_name`` matches the images of two folders for ``--pairs``; the
count checks say, in one line, what is missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from dreamer.errors import DreamerError
from dreamer.images import array_to_loaded, load_image, resize

#: File extensions taken from a folder.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
#: The fewest images (or pairs, or images per class) a cross-validated classifier is given.
MIN_IMAGES = 4


def expand_inputs(items: Sequence) -> list:
    """Paths, folders (their image files, sorted) and arrays -> a flat list of paths and arrays."""
    expanded: list = []
    for item in items:
        if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
            expanded.extend(folder_images(Path(item)))
        elif isinstance(item, (str, os.PathLike)):
            expanded.append(Path(item))
        else:
            expanded.append(item)
    return expanded


def folder_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def check_count(count: int, what: str = "images") -> None:
    """Refuse too few inputs for the scores, with a one-line reason.

    Raises:
        DreamerError: no inputs, one, or fewer than ``MIN_IMAGES``.
    """
    if count == 0:
        raise DreamerError(f"no {what} to probe")
    if count == 1:
        raise DreamerError(f"{what}: only one; the probe compares images with each other, give at least {MIN_IMAGES}")
    if count < MIN_IMAGES:
        raise DreamerError(f"{what}: {count} are too few for a cross-validated classifier; give at least {MIN_IMAGES}")


def pair_by_name(first: list, second: list, first_label: str, second_label: str) -> tuple[list, list]:
    """The two folders' images as pairs: by file name when the names match, else in sorted order.

    Raises:
        DreamerError: the folders hold different numbers of images and their names don't match.
    """
    names_a = {Path(p).name: p for p in first if isinstance(p, Path)}
    names_b = {Path(p).name: p for p in second if isinstance(p, Path)}
    if names_a and set(names_a) == set(names_b):
        order = sorted(names_a)
        return [names_a[n] for n in order], [names_b[n] for n in order]
    if len(first) != len(second):
        raise DreamerError(f"--pairs needs one image in {second_label} for each in {first_label}: "
                           f"{len(first)} and {len(second)} images, and their names differ")
    return list(first), list(second)


def load_square(item, size: int) -> np.ndarray:
    """One image (a path or an array) as a float32 size x size x 3 array in [0, 1].

    Raises:
        ImageError: the file cannot be read.
    """
    rgb = load_image(item).rgb if isinstance(item, (str, os.PathLike)) else array_to_loaded(item).rgb
    return centre_square(rgb, size)


def centre_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The short side scaled to ``size``, the centre square cut out."""
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    shape = (max(size, round(height * scale)), max(size, round(width * scale)))
    scaled = resize(rgb, shape)
    top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
    return scaled[top:top + size, left:left + size]


def load_batch(items: Sequence, size: int) -> np.ndarray:
    """Several images as one NHWC float32 batch."""
    return np.stack([load_square(item, size) for item in items])


def item_name(item) -> str:
    """How an input is named in messages and in the JSON: its path, or 'array'."""
    return str(item) if isinstance(item, (str, os.PathLike)) else "array"
