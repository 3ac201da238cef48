"""``dream models``: the registered models and where their weights come from."""

from __future__ import annotations

import click


@click.command("models")
def models_command():
    """List the registered models and where their weights come from.

    \b
    Example:
      dream models
    """
    click.echo(models_text())


def models_text() -> str:
    """Every registered model, its default layer, preprocessing, weights' source and licence."""
    from dreamer.models import DEFAULT_MODEL, REGISTRY

    blocks = []
    for spec in REGISTRY.values():
        mark = " (default)" if spec.name == DEFAULT_MODEL else ""
        aliases = f"  aliases: {', '.join(spec.aliases)}\n" if spec.aliases else ""
        blocks.append(
            f"{spec.name}{mark}: {spec.description}\n{aliases}"
            f"  default layer: {spec.default_layer}; preprocessing: {spec.preprocessing}\n"
            f"  weights: {spec.source}" + (f"\n  licence: {spec.licence}" if spec.licence else "")
        )
    return "\n".join(blocks) + "\n\n'dream layers --model NAME' lists a model's layers (no download needed)."
