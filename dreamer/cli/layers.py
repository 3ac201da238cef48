"""``dream layers``: the layers of a model you can dream on, in network order."""

from __future__ import annotations

import click

from dreamer.cli.common import (
    DEFAULT_MODEL_NAME,
    ModelChoice,
    input_name_option,
    load_adapter,
    model_options,
    user_errors,
)
from dreamer.cli.options import setting_option
from dreamer.settings import LAYERS_SIZE_SETTING


@click.command("layers")
@setting_option("size", LAYERS_SIZE_SETTING, None)
@model_options
@input_name_option
def layers_command(size, **model_choice):
    """List the layers of a model you can dream on, in network order.

    Registered models are listed from their architecture alone (nothing is
    downloaded), with where their weights come from.

    \b
    Examples:
      dream layers
      dream layers --model inception5h --size 224
      dream layers --model my_classifier.keras
    """
    with user_errors():
        text = layers_text(ModelChoice(**model_choice), size)
    click.echo(text)


def layers_text(choice: ModelChoice, size: int | None = None) -> str:
    """A registered model's layers come from its architecture (no download); others from the loaded model.

    Options for the user's own models (``--preprocess``, ``--input-name``) given with a registered
    model are refused as ``dream`` refuses them.
    """
    from dreamer.models import find_spec, model_architecture

    spec = find_spec(str(choice.model or DEFAULT_MODEL_NAME))
    user_model_options = choice.preprocess is not None or choice.input_name is not None  # refused by load_model
    if spec is None or spec.architecture is None or choice.weights is not None or user_model_options:
        adapter = load_adapter(choice)
        return layers_table(adapter, size)
    text = layers_table(model_architecture(spec.name), size)
    return f"{text}\n{spec.description}\nweights: {spec.source}\n(other models: 'dream models')"


def layers_table(adapter, size: int | None = None) -> str:
    """Each dreamable layer, its shape (at ``size`` x ``size`` if given) and channels; the default marked."""
    shapes = adapter.layer_shapes(size, size) if size else {}
    rows = [("", "layer", f"output at {size}x{size}" if size else "output (HxWxC)", "channels")]
    for info in adapter.layer_infos():
        dims = shapes.get(info.name) or info.shape
        shape = "x".join("?" if d is None else str(d) for d in dims)
        mark = "*" if info.name == adapter.default_layer else ""
        rows.append((mark, info.name, shape, str(info.channels)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{r[0]:1} {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}" for r in rows]
    lines.append(f"\nmodel {adapter.name}: {len(rows) - 1} layers; * marks the default ({adapter.default_layer})")
    if adapter.layer_note:
        lines.append(adapter.layer_note)
    return "\n".join(lines)
