"""TensorFlow's start-up, quietly: the one place its import is wrapped (the API and the CLI call it)."""

from __future__ import annotations

import os
import sys


def quiet_tensorflow_import() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA probes) hidden, as the CLI does.

    Those lines are written to file descriptor 2 during the import, before
    any logging is set up, so only a redirect of the descriptor for the
    length of the import hides them; later C++ lines (a CPU machine's CUDA
    probe) are hidden by ``TF_CPP_MIN_LOG_LEVEL=3``, set only if the user has
    not set it (set it to 0 to see them). Python's logging is left alone. An
    ImportError still propagates with its message.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
