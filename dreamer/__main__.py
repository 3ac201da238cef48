"""``python -m dreamer``: the ``dream`` command."""

from dreamer.cli import main

if __name__ == "__main__":
    main(prog_name="dream")
