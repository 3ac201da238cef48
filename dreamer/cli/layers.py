"""``dream layers``: the layers of a model you can dream on, in network order."""

from __future__ import annotations

import click

from dreamer.cli.common import DEFAULT_MODEL_NAME, load_adapter, model_options, user_errors
from dreamer.errors import DreamerError


@click.command("layers")
@model_options
def layers_command(model, weights, preprocess, unsafe_load, cache_dir):
    """List the layers of a model you can dream on, in network order.

    Registered models are listed from their architecture alone (nothing is
    downloaded), with where their weights come from.

    \b
    Examples:
      dream layers
      dream layers --model inception5h
      dream layers --model my_classifier.keras
    """
    with user_errors():
        text = layers_text(model, cache_dir, weights, preprocess, unsafe_load=unsafe_load)
    click.echo(text)


def layers_text(model, cache_dir, weights, preprocess, *, unsafe_load: bool = False) -> str:
    """A registered model's layers come from its architecture (no download); others from the loaded model."""
    from dreamer.models import find_spec, model_architecture

    spec = find_spec(str(model or DEFAULT_MODEL_NAME))
    if spec is None or spec.architecture is None or weights is not None:
        return layers_table(load_adapter(model, cache_dir, weights, preprocess, unsafe_load=unsafe_load))
    if preprocess is not None:
        raise DreamerError(f"--preprocess is for your own models; {spec.name} knows its own")
    text = layers_table(model_architecture(spec.name))
    return f"{text}\n{spec.description}\nweights: {spec.source}\n(other models: 'dream models')"


def layers_table(adapter) -> str:
    """Each dreamable layer, its shape and channels; the default marked."""
    rows = [("", "layer", "output (HxWxC)", "channels")]
    for info in adapter.layer_infos():
        shape = "x".join("?" if d is None else str(d) for d in info.shape)
        mark = "*" if info.name == adapter.default_layer else ""
        rows.append((mark, info.name, shape, str(info.channels)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{r[0]:1} {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}" for r in rows]
    lines.append(f"\nmodel {adapter.name}: {len(rows) - 1} layers; * marks the default ({adapter.default_layer})")
    if adapter.layer_note:
        lines.append(adapter.layer_note)
    return "\n".join(lines)
