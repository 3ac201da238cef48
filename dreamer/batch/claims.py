"""Claims: so that two processes on one output folder never render the same result.

Before rendering a result, a process takes an exclusive, non-blocking
``flock`` on a small file named after the result, in ``.dreamer-claims/``
of the output folder, and holds it until the result and its manifest record
are written. Another process finds the lock taken and moves on. The kernel
releases the lock when its holder dies, whatever the cause (SIGKILL
included), so a killed batch leaves no stale claim behind and the next run
simply takes it. The claim files themselves are kept (deleting a lock file
while others may open it would let two processes hold "the same" lock).

Locks are those of the local machine's kernel: processes on several machines
sharing a network folder should use one driver with a distributed executor.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

CLAIMS_FOLDER = ".dreamer-claims"


class Claim:
    """A held claim on one result; ``release`` (or the process ending) lets it go."""

    def __init__(self, key: str, fd: int):
        self.key = key
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def try_claim(output_folder: Path, key: str) -> Claim | None:
    """Claim the result ``key``, or None when another live process holds it."""
    folder = Path(output_folder) / CLAIMS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + ".claim"
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return Claim(key, fd)
