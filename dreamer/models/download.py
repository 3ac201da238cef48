"""Fetching and checking model files: download, SHA-256, safe zip extraction.

Contract:

- ``download(url, final, sha256, progress)`` streams ``url`` into a temporary
  file beside ``final`` and renames it to ``final`` only when the whole body
  arrived (as many bytes as the server announced) and, if ``sha256`` is given,
  its SHA-256 matches. Anything else (a network error, a truncated body, a
  wrong hash, Ctrl-C) raises and leaves ``final`` as it was: no partial file.
- ``progress(done, total)`` is called as bytes arrive (``total`` is None when
  the server does not say); the CLI turns it into a progress bar on stderr.
- ``extract_members(zip_path, members)`` copies members named *exactly*
  (never a path taken from the archive) into files the caller chooses,
  atomically.

Nothing here prints.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Mapping

from dreamer.errors import ModelError
from dreamer.fileio import atomic_path, file_digest

DownloadProgress = Callable[[int, "int | None"], None]
CHUNK = 1 << 20
TIMEOUT_S = 30


class DownloadError(ModelError):
    """A file could not be fetched (no network, an HTTP error, a truncated body)."""


class ChecksumError(ModelError):
    """A file's SHA-256 is not the published one."""


def check_sha256(path: Path, expected: str, what: str) -> None:
    """Raise ChecksumError unless ``path`` has the digest ``expected``.

    A 64-digit ``expected`` is a SHA-256; a 32-digit one an MD5 (the hashes
    Keras publishes for its application weights).
    """
    algorithm = "md5" if len(expected) == 32 else "sha256"
    actual = file_digest(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{what}: {'MD5' if algorithm == 'md5' else 'SHA-256'} is {actual[:16]}..., "
            f"expected {expected[:16]}... (damaged or another file)"
        )


def download(url: str, final: Path, sha256: str | None = None, progress: DownloadProgress | None = None,
             opener: Callable = urllib.request.urlopen) -> Path:
    """Download ``url`` to ``final`` atomically, checking length and hash.

    Raises:
        DownloadError: the network failed or the body was cut short.
        ChecksumError: the file arrived whole but its SHA-256 is wrong.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _done, _total: None)
    try:
        with atomic_path(final) as tmp:
            with opener(url, timeout=TIMEOUT_S) as response, open(tmp, "wb") as out:
                total = _content_length(response)
                done = 0
                report(done, total)
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    done += len(block)
                    report(done, total)
            if total is not None and done != total:
                raise DownloadError(f"{url}: download cut short ({done} of {total} bytes)")
            if sha256 is not None:
                check_sha256(tmp, sha256, url)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"{url}: cannot download ({reason})") from None
    return final


def extract_members(zip_path: Path, members: Mapping[str, Path]) -> None:
    """Copy each named member of ``zip_path`` to its destination, atomically.

    Only the names given are read, wherever they sit in the archive (a
    top-level folder is allowed); the archive's own paths never decide where
    a file is written.

    Raises:
        ModelError: not a zip file, or a member is missing.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            by_base = {}
            for info in archive.infolist():
                base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
                by_base.setdefault(base, info)
            for name, destination in members.items():
                info = by_base.get(name)
                if info is None:
                    raise ModelError(f"{zip_path}: the archive has no {name}")
                destination.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(destination) as tmp, archive.open(info) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{zip_path}: not a readable zip archive ({exc})") from None


def _content_length(response) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
