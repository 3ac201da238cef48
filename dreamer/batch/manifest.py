"""The batch manifest: one JSON object per line, one line per finished input.

``dreamer-manifest.jsonl`` in the output folder is the batch's memory. Each
record is appended with a single ``write`` while holding an exclusive lock
on the file, then flushed to disk (``fsync``), so a record is either wholly
there or not at all, and two processes never interleave their lines. A
process killed in the middle of a write (SIGKILL, power loss) can leave a
torn last line: reading ignores it, and the next append first cuts it off
(under the lock), so the file stays valid JSON Lines.

A record (see ``record_for``) holds the key (the result's planned name),
the input's path and SHA-256, the output's path and SHA-256, the settings
the result carries, the seed, the seconds taken and the worker; a failed
input is recorded with ``"status": "failed"`` and its reason, and is tried
again by the next run.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dreamer.errors import DreamerError

MANIFEST_NAME = "dreamer-manifest.jsonl"


class ManifestError(DreamerError):
    """The manifest can't be written (a full disk, no permission): the batch stops."""


@dataclass
class Manifest:
    """The records of one output folder, read so far, and the way to add more.

    Attributes:
        path: the manifest file.
        records: every complete record read, in file order.
        torn: whether the file ended in an incomplete line when last read.
    """

    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    torn: bool = False
    _offset: int = 0

    @classmethod
    def open(cls, folder: Path) -> "Manifest":
        """The manifest of ``folder`` (empty if it has none yet), read to its end."""
        manifest = cls(Path(folder) / MANIFEST_NAME)
        manifest.refresh()
        return manifest

    def refresh(self) -> list[dict[str, Any]]:
        """Read the records other processes appended since the last read; returns them."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                tail = handle.read()
        except FileNotFoundError:
            return []
        complete, newline, rest = tail.rpartition(b"\n")
        self.torn = bool(rest)
        if not newline:
            return []
        self._offset += len(complete) + 1
        new = list(_parse_lines(complete))
        self.records.extend(new)
        return new

    def append(self, record: dict[str, Any]) -> None:
        """Add one record atomically (locked, one write, fsync), repairing a torn last line first."""
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                _cut_torn_tail(fd)
                _write_all(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)  # closing releases the lock
        except OSError as exc:
            raise ManifestError(f"{self.path}: cannot write the manifest ({exc.strerror or exc})") from None
        self.refresh()


def record_for(key: str, input_path: str, input_sha256: str, **fields: Any) -> dict[str, Any]:
    """A manifest record: the key, the input, a timestamp, and the given fields."""
    return {"key": key, "input": input_path, "input_sha256": input_sha256,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}


def _parse_lines(data: bytes) -> Iterator[dict[str, Any]]:
    """The records among complete lines; a line that is not a JSON object is passed over."""
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(record, dict):
            yield record


def _write_all(fd: int, data: bytes) -> None:
    """One ``write`` in the usual case; the rest of a short write follows (still under the lock)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _cut_torn_tail(fd: int) -> None:
    """Truncate the file after its last newline (a writer killed mid-line leaves a fragment)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    position = size
    while position > 0:
        start = max(0, position - 65536)
        chunk = os.pread(fd, position - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            if end != size:
                os.ftruncate(fd, end)
            return
        position = start
    os.ftruncate(fd, 0)
