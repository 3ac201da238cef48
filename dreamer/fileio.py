"""Atomic file writes and the cache folder.

Every file dreamer creates (a result image, a converted model in the cache, a
download) is first written to a temporary file in the destination folder and
then renamed over the final name, so a killed run, a full disk or an exception
never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

#: Bytes read at a time when hashing a file.
DIGEST_CHUNK = 1 << 20


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success.

    On any exception (KeyboardInterrupt and SystemExit included) the temporary
    file is removed and ``final`` is left as it was.

    Args:
        final: the path the finished file should have.
        suffix: the temporary file's extension; defaults to ``final``'s, so
            that libraries choosing a format by extension still work.
    """
    final = Path(final)
    suffix = final.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where converted and downloaded models live.

    ``DREAMER_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/dreamer``, else
    ``~/.cache/dreamer``. Only the CLI and the API's defaults call this; the
    rest of the library takes the folder as an argument.
    """
    environ = os.environ if environ is None else environ
    if environ.get("DREAMER_CACHE_DIR"):
        return Path(environ["DREAMER_CACHE_DIR"]).expanduser()
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]).expanduser() / "dreamer"
    return Path.home() / ".cache" / "dreamer"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes (``sha256`` or ``md5``)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(DIGEST_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
