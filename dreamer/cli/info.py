"""``dream info RESULT.png``: the settings a result carries, readably (or as JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dreamer.cli.common import usage_errors

#: The order settings are shown in; others follow alphabetically.
FIRST = ("input", "input_sha256", "model", "objective", "layers", "precision", "seed")


@click.command("info")
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False),
                metavar="RESULT.png...")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON, exactly as stored.")
def info_command(results, as_json):
    """Show the settings a result carries: model, objective, every setting, the seed, the input.

    \b
    Examples:
      dream info outputs/cat_efficientnet-lite0_block5c_add.png
      dream info --json result.png
    """
    from dreamer.cli.preflight import check_result_file

    for result in results:
        with usage_errors():  # a PNG's text chunk: no TensorFlow needed
            metadata = check_result_file(Path(result))
        click.echo(json.dumps(metadata, indent=2, sort_keys=True) if as_json else info_text(Path(result), metadata))


def info_text(result: Path, metadata: dict) -> str:
    """One setting a line, the important ones first; the recipe's extra settings after."""
    keys = [k for k in FIRST if k in metadata] + sorted(k for k in metadata if k not in FIRST and k != "recipe")
    width = max(len(k) for k in keys)
    lines = [f"{click.format_filename(str(result))}:"]
    lines += [f"  {key:<{width}}  {_shown(metadata[key])}" for key in keys]
    recipe = metadata.get("recipe") or {}
    extra = {k: v for k, v in recipe.items() if v not in (None, [], False) and metadata.get(k) != v}
    if extra:
        lines.append("  as asked (what 'dream again' uses):")
        lines += [f"    {key:<{width}}  {_shown(value)}" for key, value in sorted(extra.items())]
    return "\n".join(lines)


def _shown(value) -> str:
    if isinstance(value, dict):
        return " + ".join(f"{v:g}*{k}" if v != 1 else k for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "-"
    return "-" if value is None else str(value)
