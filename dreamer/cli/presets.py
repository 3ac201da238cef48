"""``dream presets``: the named presets, what each looks like, and its settings."""

from __future__ import annotations

import click


@click.command("presets")
def presets_command():
    """List the presets that --preset NAME chooses.

    \b
    Examples:
      dream presets
      dream --preset deep photo.jpg
    """
    from dreamer.presets import presets_text

    click.echo(presets_text())
