"""``python -m dreamer`` and the ``dream`` console script: the command, with Ctrl-C answered from the start.

``run()`` imports the CLI inside a ``try``, so a Ctrl-C that comes while
Python is still importing click, NumPy or the commands exits 130 with one
line, as one that comes later does (``dreamer.cli.DefaultGroup``), instead
of a traceback.
"""

import sys

EXIT_INTERRUPTED = 130  # dreamer.cli.common.EXIT_INTERRUPTED, repeated: that module is not imported yet


def run() -> None:
    """The ``dream`` command."""
    try:
        from dreamer.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    main(prog_name="dream")


if __name__ == "__main__":
    run()
