"""``dream atlas``: each channel's favourite pattern, on one labelled contact sheet."""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

import click

from dreamer.cli.common import (
    EXIT_FAILED_INPUT,
    load_adapter,
    make_say,
    model_options,
    signals_as_exceptions,
    user_errors,
)
from dreamer.config import ATLAS_CONFIG, ATLAS_TILE_SIZE
from dreamer.errors import DreamerError


@click.command("atlas")
@click.option("-l", "--layer", default=None, metavar="NAME", help="The layer to map. [default: the model's]")
@click.option("--channels", default=None, metavar="LIST",
              help="Channels to render: '0-63', '3,7,12-15' or 'all'. [default: the first 16]")
@click.option("--size", type=click.IntRange(min=32), default=ATLAS_TILE_SIZE, show_default=True,
              help="Each tile's side in pixels.")
@click.option("-i", "--iterations", type=click.IntRange(min=1), default=ATLAS_CONFIG.iterations,
              show_default=True, help="Gradient-ascent steps per octave.")
@click.option("--octaves", type=click.IntRange(min=1), default=ATLAS_CONFIG.octaves, show_default=True,
              help="Number of scales, the full tile size included.")
@click.option("--laplacian", "laplacian_levels", type=click.IntRange(0, 12),
              default=ATLAS_CONFIG.laplacian_levels, show_default=True,
              help="Laplacian-pyramid gradient normalisation levels; 0 is off.")
@click.option("--columns", type=click.IntRange(min=1), default=None,
              help="Tiles per row. [default: about square]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed of the start noise and the jitter (channel c uses seed + c).")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file. [default: outputs/atlas_<model>_<layer>_<channels>.png]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file instead of choosing a free name.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@model_options
def atlas_command(layer, channels, size, iterations, octaves, laplacian_levels, columns, seed, output, overwrite,
                  quiet, model, weights, preprocess, unsafe_load, cache_dir):
    """Map a layer: each channel's favourite pattern, on one labelled contact sheet.

    Every channel is rendered from grey noise by gradient ascent on its mean
    activation, with jitter and small random rotations and scalings at each
    step, over a few octaves; its number is written under its tile.

    \b
    Examples:
      dream atlas --layer block5c_add
      dream atlas --layer block4c_add --channels 0-63 -o block4c.png
      dream atlas --model my_classifier.keras --layer conv3 --channels all
    """
    from dreamer.atlas import channels_to_render
    from dreamer.outputs import name_outputs, plan_outputs

    say = make_say(quiet)
    with user_errors():
        config = replace(ATLAS_CONFIG, iterations=iterations, octaves=octaves, laplacian_levels=laplacian_levels,
                         seed=seed)
        adapter = load_adapter(model, cache_dir, weights, preprocess, unsafe_load=unsafe_load, quiet=quiet)
        layer = layer or adapter.default_layer
        chosen = channels_to_render(adapter, layer, channels)
        target = plan_outputs([Path("atlas")], output)
        label = f"{layer}_{chosen[0]}-{chosen[-1]}" if chosen == tuple(range(chosen[0], chosen[-1] + 1)) else layer
        target = name_outputs(target, adapter.name, label, overwrite, say)[0]
    with signals_as_exceptions():
        try:
            written = render_atlas(adapter, layer, chosen, config, size, columns, target.output, quiet)
        except DreamerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
    say(f"wrote {written} ({len(chosen)} channels of {layer})")


def render_atlas(adapter, layer: str, channels: tuple[int, ...], config, size: int, columns: int | None,
                 output: Path, quiet: bool) -> Path:
    """Render the channels' tiles with a progress bar on stderr, lay them out and save the sheet."""
    from dreamer import __version__
    from dreamer.atlas import contact_sheet, render_channels
    from dreamer.cli.progress import LazyBar
    from dreamer.images import save_image
    from dreamer.objectives import channel_list_text

    with LazyBar(quiet) as bar:

        def progress(position: int, event) -> None:
            if not quiet and event.message is None:
                bar.advance(1, f"channel {channels[position]} ({position + 1}/{len(channels)})",
                            length=len(channels) * config.octaves * config.iterations, label=f"atlas {layer}",
                            show_pos=True, item_show_func=lambda item: item)

        tiles = render_channels(adapter, layer, channels, config, size, progress)
    sheet = contact_sheet(tiles, [str(c) for c in channels], columns)
    metadata = {
        "dreamer_version": __version__, "model": adapter.name, "atlas_layer": layer,
        "channels": channel_list_text(channels), "tile_size": size, **asdict(config),
    }
    save_image(sheet, output, metadata)
    return output
