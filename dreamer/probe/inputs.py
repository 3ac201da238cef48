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
import re
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


def group_ids(items: Sequence, spec=None) -> np.ndarray:
    """One group id per input: images of one group always share a cross-validation fold.

    Args:
        items: the inputs (paths or arrays), in order.
        spec: None (each image its own group); a list of labels, one per
            input; ``"name:REGEX"`` (the group is the regex's first
            capture group, or its whole match, in the file name; an
            unmatched name is its own group); or a text file of
            ``file-name group`` lines (comma, tab or spaces between).

    Raises:
        DreamerError: a bad regex, an unreadable file, or an image it does not name (one line).
    """
    if spec is None:
        return np.arange(len(items))
    if not isinstance(spec, (str, os.PathLike)):
        labels = list(spec)
        if len(labels) != len(items):
            raise DreamerError(f"groups: {len(labels)} labels for {len(items)} images")
        return _numbered(labels)
    text = os.fspath(spec)
    if text.startswith("name:"):
        return _numbered(_by_rule(items, text[5:]))
    return _numbered(_by_file(items, Path(text)))


def _numbered(labels: list) -> np.ndarray:
    order = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    return np.array([order[label] for label in labels], dtype=int)


def _by_rule(items: Sequence, pattern: str) -> list:
    try:
        rule = re.compile(pattern)
    except re.error as exc:
        raise DreamerError(f"--groups name:{pattern}: not a regular expression ({exc})") from None
    labels: list = []
    for position, item in enumerate(items):
        found = rule.search(Path(item).name) if isinstance(item, (str, os.PathLike)) else None
        labels.append(("rule", (found.group(1) if rule.groups else found.group(0))) if found else ("own", position))
    return labels


def _by_file(items: Sequence, path: Path) -> list:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DreamerError(f"--groups {path}: cannot read ({getattr(exc, 'strerror', None) or exc}); give a file "
                           "of 'file-name group' lines, or name:REGEX") from None
    table = {}
    for line in lines:
        parts = [part for part in re.split(r"[,\t ]+", line.strip(), maxsplit=1) if part]
        if len(parts) == 2 and not line.lstrip().startswith("#"):
            table[parts[0]] = parts[1]
    names = [Path(item).name if isinstance(item, (str, os.PathLike)) else None for item in items]
    missing = [name or "an array" for name in names if name not in table]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DreamerError(f"--groups {path} names no group for {missing[0]}{more}")
    return [table[name] for name in names]


def plan_inputs(images=(), pairs=None, classes=None) -> tuple[str, list, list]:
    """The mode ("transform", "pairs" or "classes") and its two lists of inputs, checked for count.

    Raises:
        DreamerError: more than one kind of input, or too few images.
    """
    given = [name for name, value in (("images", images), ("pairs", pairs), ("classes", classes))
             if value is not None and len(value)]
    if len(given) > 1:
        raise DreamerError(f"give images, pairs or classes, not {' and '.join(given)}")
    if pairs:
        first, second = pair_by_name(_members(pairs[0]), _members(pairs[1]), label_of(pairs, 0), label_of(pairs, 1))
        check_count(len(first), "image pairs")
        return "pairs", first, second
    if classes:
        first, second = _members(classes[0]), _members(classes[1])
        for position, members in enumerate((first, second)):
            check_count(len(members), f"images in {label_of(classes, position)}")
        return "classes", first, second
    first = expand_inputs(images)
    check_count(len(first))
    return "transform", first, []


def _members(value) -> list:
    """A folder's images, or a list's items (files, folders, arrays)."""
    return expand_inputs([value] if isinstance(value, (str, os.PathLike)) else list(value))


def label_of(folders, position: int) -> str:
    """How the first or second folder is named: its path, or 'the first/second set' for lists."""
    value = folders[position]
    return str(value) if isinstance(value, (str, os.PathLike)) else ("the first set", "the second set")[position]
