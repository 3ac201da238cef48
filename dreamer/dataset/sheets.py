"""What ``dream examples`` writes: a contact sheet per channel and one JSON of paths, positions and scores.

A sheet has three rows of k tiles: the top images (the centre square the
network saw), the top patches (each the receptive field of the channel's
strongest position, cut from the original image) and the least-activating
images. ``thumbnail`` and ``patch_tile`` are shared with ``dream report``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from dreamer.fileio import atomic_path

#: The JSON file ``write_examples`` writes beside the sheets.
EXAMPLES_JSON = "examples.json"


def thumbnail(path: Path, side: int):
    """The image's centre square (what the network saw) as a side x side PIL image."""
    from PIL import Image

    from dreamer.dataset.collect import square_input

    return Image.fromarray(square_input(Path(path), side)[0])


def patch_tile(path: Path, box: Sequence[float], side: int):
    """The ``box`` (left, top, right, bottom, original pixels) cut from the image, fitted in a side x side tile."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    left, top, right, bottom = (int(round(v)) for v in box)
    patch = image.crop((left, top, max(right, left + 1), max(bottom, top + 1)))
    return ImageOps.pad(patch, (side, side), Image.Resampling.BICUBIC, color="white")


def channel_sheet(found, side: int):
    """The three rows of one channel's ``ChannelExamples`` as one labelled PIL image."""
    from dreamer.atlas import contact_sheet

    columns = max(len(found.top), len(found.patches), len(found.bottom), 1)
    tiles, labels = [], []
    rows = ((found.top, "top", lambda e: thumbnail(e.path, side)),
            (found.patches, "patch", lambda e: patch_tile(e.path, e.box, side)),
            (found.bottom, "low", lambda e: thumbnail(e.path, side)))
    for row, word, make in rows:
        for number in range(columns):
            if number < len(row):
                tiles.append(np.asarray(make(row[number]), np.float32) / 255.0)
                labels.append(f"{word} {row[number].score:.3g}")
            else:
                tiles.append(np.ones((side, side, 3), np.float32))
                labels.append("")
    return contact_sheet(tiles, labels, columns)


def free_path(path: Path, overwrite: bool) -> Path:
    """``path``, or (unless overwriting) the first free ``<stem>_N<suffix>`` beside it (``outputs.free_name``)."""
    from dreamer.outputs import free_name

    return path if overwrite else free_name(path)


def write_examples(results: Sequence, folder: Path, side: int, overwrite: bool, context: dict) -> Path:
    """A sheet PNG per channel and ``examples.json`` in ``folder``; returns the JSON's path.

    Args:
        results: ``ChannelExamples``, one per (layer, channel).
        side: each tile's side in pixels.
        context: settings recorded at the top of the JSON (model, size...).
    """
    from dreamer.images import save_image
    from dreamer.outputs import ensure_folder, safe_name

    ensure_folder(folder)
    channels = []
    for found in results:
        sheet = free_path(folder / f"{safe_name(found.layer)}_{found.channel}.png", overwrite)
        save_image(channel_sheet(found, side), sheet)
        channels.append({"sheet": sheet.name, **_as_record(found)})
    target = free_path(folder / EXAMPLES_JSON, overwrite)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps({**context, "channels": channels}, indent=1), encoding="utf-8")
    return target


def _as_record(found) -> dict:
    record = asdict(found)
    for key in ("top", "patches", "bottom"):
        for item in record[key]:
            item["path"] = str(item["path"])
    return record
