"""The frames folder: numbered PNG frames plus the settings that made them.

The folder is a run's whole state. ``frame_000000.png``, ``frame_000001.png``
... are written atomically, so every frame file that exists is complete; a
killed run continues after the last of the unbroken run of frames from 0.
``dreamer-frames.json`` holds the settings (the seed included): a run with
other settings is refused rather than mixed in, and a run without ``--seed``
continues with the recorded one. Each frame's PNG carries its own facts
(index, seed, objective, flicker score) in the ``dreamer`` text chunk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from dreamer.errors import DreamerError, first_line
from dreamer.fileio import atomic_path

SETTINGS_FILE = "dreamer-frames.json"
FRAME_PATTERN = "frame_{:06d}.png"


class FramesFolderError(DreamerError):
    """A frames folder that can't be used for this run (other settings, other files); found before any frame."""


class FramesFolder:
    """A folder of numbered frames and the settings that made them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def frame_path(self, index: int) -> Path:
        return self.path / FRAME_PATTERN.format(index)

    def count(self) -> int:
        """How many frames from 0 on are complete (the first missing one ends the count)."""
        index = 0
        while self.frame_path(index).is_file():
            index += 1
        return index

    def saved_settings(self) -> dict | None:
        """The settings recorded by an earlier run, or None."""
        path = self.path / SETTINGS_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            raise FramesFolderError(f"{path}: unreadable; delete the folder or use --overwrite") from None

    def start(self, settings: dict, overwrite: bool) -> int:
        """Prepare the folder for ``settings``; returns how many frames are already done.

        A folder holding frames of other settings is refused (or emptied of
        its frames with ``overwrite``); left-over partial files of a killed
        run are removed.

        Raises:
            DreamerError: the folder is a file, holds other settings, or
                holds files that are not frames.
        """
        if self.path.exists() and not self.path.is_dir():
            raise FramesFolderError(f"{self.path}: is a file; the frames need a folder")
        settings = json.loads(json.dumps(settings))  # compared as stored: tuples become lists
        saved = self.saved_settings()
        if saved is None and self.path.is_dir() and self._foreign_files():
            raise FramesFolderError(f"{self.path}: holds other files; choose an empty or new folder for the frames")
        changed = [] if saved is None else settings_changes(saved, settings)
        if changed and not overwrite:
            raise FramesFolderError(f"{self.path}: holds frames made with other settings ({'; '.join(changed[:3])}); "
                               "use --overwrite to start again, or another output")
        if changed or (overwrite and saved is not None):
            self.clear()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FramesFolderError(f"{self.path}: cannot make the folder ({first_line(exc)})") from None
        self._remove_partial_files()
        with atomic_path(self.path / SETTINGS_FILE) as tmp:
            tmp.write_text(json.dumps(settings, indent=1, sort_keys=True))
        return self.count()

    def write(self, index: int, frame: np.ndarray, facts: dict) -> Path:
        """Save frame ``index`` (uint8 HxWx3) atomically, with ``facts`` in its text chunk."""
        from PIL import Image

        from dreamer.images import save_image

        return save_image(Image.fromarray(frame), self.frame_path(index), facts)

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as uint8 HxWx3."""
        from PIL import Image

        with Image.open(self.frame_path(index)) as image:
            return np.asarray(image.convert("RGB"))

    def frames(self, count: int) -> Iterator[np.ndarray]:
        """Frames 0 .. count-1, read one at a time."""
        for index in range(count):
            yield self.read(index)

    def facts(self, count: int) -> Iterator[dict]:
        """The facts saved with frames 0 .. count-1."""
        from dreamer.images import read_metadata

        for index in range(count):
            yield read_metadata(self.frame_path(index)) or {}

    def clear(self) -> None:
        """Remove the frames and the settings (nothing else lives here)."""
        for path in self.path.glob("frame_*.png"):
            path.unlink()
        (self.path / SETTINGS_FILE).unlink(missing_ok=True)
        self._remove_partial_files()

    def remove(self) -> None:
        """Delete the folder, once its frames are encoded into a video."""
        self.clear()
        if self.path.is_dir() and not any(self.path.iterdir()):
            shutil.rmtree(self.path)

    def _foreign_files(self) -> bool:
        return any(not (p.name.startswith("frame_") or p.name.startswith(".")) for p in self.path.iterdir())

    def _remove_partial_files(self) -> None:
        for path in self.path.glob(".*.part*"):
            path.unlink(missing_ok=True)


def settings_changes(saved: dict, wanted: dict) -> list[str]:
    """What differs between two settings dicts, as ``key: old -> new`` lines (sorted by key)."""
    keys = sorted(set(saved) | set(wanted))
    return [f"{key}: {saved.get(key)!r} -> {wanted.get(key)!r}" for key in keys if saved.get(key) != wanted.get(key)]
