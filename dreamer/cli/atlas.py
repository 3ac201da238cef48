"""``dream atlas``: each channel's (or class's) favourite pattern, on one labelled contact sheet."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from dreamer.atlas_settings import AtlasSettings
from dreamer.cli import preflight
from dreamer.cli.common import (
    EXIT_FAILED_INPUT,
    ModelChoice,
    input_name_option,
    load_adapter,
    make_say,
    model_options,
    signals_as_exceptions,
    take,
    usage_errors,
    user_errors,
)
from dreamer.cli.configured import ConfiguredCommand, config_file_options
from dreamer.cli.options import options_from
from dreamer.errors import DreamerError


@click.command("atlas", cls=ConfiguredCommand, table="atlas")
@click.option("-l", "--layer", default=None, metavar="NAME",
              help="The layer to map; with --class, the layer where variants must differ. [default: the model's]")
@click.option("--channels", default=None, metavar="LIST",
              help="Channels to render: '0-63', '3,7,12-15' or 'all'. [default: the first 16]")
@click.option("-c", "--class", "classes", multiple=True, metavar="NAME|INDEX",
              help="Render what a class looks like to the classifier instead of channels (e.g. tabby, "
                   "'Egyptian cat', 281); repeatable. Your own model's names come from --labels.")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A text file of class names, one per line, for your own classifier.")
@options_from(AtlasSettings)
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file. [default: outputs/atlas_<model>_<layer>_<channels>.png]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file instead of choosing a free name.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@model_options
@input_name_option
@config_file_options
def atlas_command(layer, channels, classes, labels, output, overwrite, quiet, **options):
    """Map a layer: each channel's favourite pattern, on one labelled contact sheet.

    Every channel (or, with --class, every class) is rendered from noise: by
    default (fft) as Fourier coefficients in decorrelated colour, optimised
    with Adam while the image is randomly padded, shifted, scaled and rotated
    at each step; with --param pixels by gradient ascent on the pixels over a
    few octaves. Its number or name is written under its tile.

    \b
    Examples:
      dream atlas --layer block5c_add
      dream atlas --layer block4c_add --channels 0-63 -o block4c.png
      dream atlas --channels 0-7 --variants 4            # a row of 4 different tiles per channel
      dream atlas --class tabby --class 'Egyptian cat'   # what each class looks like
      dream atlas --model coins.keras --labels coins.txt --class left --class right
      dream atlas --param pixels --layer block5c_add     # the pixel parameterisation
    """
    from dreamer.atlas import plan_sheet
    from dreamer.outputs import name_outputs, plan_outputs

    say = make_say(quiet)
    with usage_errors():  # the layer, channels and classes of a registered model: before TensorFlow loads
        preflight.check_atlas(options.get("model"), layer, channels, classes, labels)
    with user_errors():
        choice, settings = take(ModelChoice, options), take(AtlasSettings, options)
        adapter = load_adapter(choice, labels, quiet=quiet)
        plan = plan_sheet(adapter, layer, channels, classes, settings.param, settings.variants)
        target = plan_outputs([Path("atlas")], output)
        target = name_outputs(target, adapter.name, plan.name, overwrite)[0]
    with signals_as_exceptions():
        try:
            written = render_atlas(adapter, plan, settings, target.output, quiet)
        except DreamerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
    what = f"{len(plan.units)} classes" if classes else f"{len(plan.units)} channels of {plan.layer}"
    say(f"wrote {written} ({what}, {settings.param}" + (f"; {target.renamed}" if target.renamed else "") + ")")


def render_atlas(adapter, plan, settings, output: Path, quiet: bool) -> Path:
    """Render the plan's tiles (``settings``: an ``AtlasSettings``) with a progress bar on stderr, lay them out
    and save the sheet."""
    from dreamer.atlas import contact_sheet, plan_steps, render_plan
    from dreamer.cli.progress import LazyBar
    from dreamer.images import save_image
    from dreamer.objectives import channel_list_text
    from dreamer.version import __version__

    pixel_config, fourier_config, size = settings.pixel_config(), settings.fourier_config(), settings.size
    length = plan_steps(plan, pixel_config, fourier_config)
    with LazyBar(quiet) as bar:

        def progress(position: int, event) -> None:
            if not quiet and event.message is None:
                bar.advance(1, f"{plan.labels[position]} ({position + 1}/{len(plan.units)})", length=length,
                            label=f"atlas {plan.layer}", show_pos=True, item_show_func=lambda item: item)

        tiles = render_plan(adapter, plan, pixel_config, fourier_config, size, progress)
    labels = [label for label in plan.labels for _ in range(plan.variants)]
    sheet = contact_sheet(tiles, labels, settings.columns or (plan.variants if plan.variants > 1 else None))
    metadata = {
        "dreamer_version": __version__, "model": adapter.name, "atlas_layer": plan.layer,
        "channels": channel_list_text(plan.units), "labels": list(plan.labels), "param": plan.param,
        "variants": plan.variants, "diversity_layer": plan.diversity_layer, "tile_size": size,
        **asdict(pixel_config if plan.param == "pixels" else fourier_config),
    }
    save_image(sheet, output, metadata)
    return output
