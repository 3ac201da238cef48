"""``python -m dreamer.cli``: the ``dream`` command."""

from dreamer.cli import main

main()
