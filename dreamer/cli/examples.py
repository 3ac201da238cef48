"""``dream examples``: the real images, and patches of them, that excite a channel most (and least).

A thin shell over ``dreamer.dataset``: the folder, the layers and the
channel numbers are checked before TensorFlow loads (against the layer
names and channel counts shipped for registered models); the request goes
to ``find_examples``; the sheets and JSON are written by ``write_examples``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from dreamer.cli.common import (
    DEFAULT_MODEL_NAME,
    ModelChoice,
    load_adapter,
    make_say,
    model_options,
    signals_as_exceptions,
    take,
    usage_errors,
    user_errors,
)
from dreamer.cli.configured import ConfiguredCommand, config_file_options
from dreamer.cli.progress import LazyBar
from dreamer.dataset.examples import DEFAULT_BATCH, DEFAULT_K, DEFAULT_SIZE, DEFAULT_TILE
from dreamer.errors import DreamerError


def channel_options(func):
    """--channels, --most-active, --most-selective: which channels (shared with ``dream report``)."""
    options = [
        click.option("--channels", default=None, metavar="LIST",
                     help="Channels: '0-15' or '3,7,12-15'. [default: the 8 most active]"),
        click.option("--most-active", type=click.IntRange(1, 4096), default=None, metavar="N",
                     help="The N channels with the highest mean activation over the images."),
        click.option("--most-selective", type=click.IntRange(1, 4096), default=None, metavar="N",
                     help="The N channels whose top images stand out most from the rest (in standard deviations)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def channel_choice(channels: str | None, most_active: int | None, most_selective: int | None):
    """The ChannelChoice the options name (no TensorFlow needed).

    Raises:
        DreamerError: more than one given, or a list that does not parse.
    """
    from dreamer.dataset.examples import choice_from
    from dreamer.objectives.grammar import parse_channel_list

    listed = None if channels is None else parse_channel_list(channels)
    return choice_from(listed, most_active, most_selective)


def preflight(images: str, model: str | None, layers: tuple[str, ...], choice) -> str:
    """The checks answered before TensorFlow: images in the folder; a registered model's layers and channels.

    Returns the model to load.

    Raises:
        DreamerError: one line about the first problem found.
    """
    from dreamer.batch.inputs import find_inputs
    from dreamer.cli.preflight import registered_with_layers
    from dreamer.models import catalog

    if not Path(images).is_dir():
        raise DreamerError(f"{images}: not a folder of images")
    if not find_inputs([images], recursive=True).inputs:
        raise DreamerError(f"{images}: no images in this folder")
    model = str(model or DEFAULT_MODEL_NAME)
    name = registered_with_layers(model, layers)
    if name is None:
        return model
    counts = catalog.layer_channels(name)
    for layer in layers:
        bad = [c for c in choice.channels if layer in counts and not 0 <= c < counts[layer]]
        if bad:
            raise DreamerError(f"channel {bad[0]} is out of range: layer {layer!r} has {counts[layer]} channels "
                               f"(0-{counts[layer] - 1})")
    return name


@click.command("examples", cls=ConfiguredCommand, table="examples")
@click.argument("images", type=click.Path(), metavar="FOLDER")
@click.option("-l", "--layer", "layers", multiple=True, metavar="NAME",
              help="A layer (repeatable; all run in one pass). [default: the model's]")
@channel_options
@click.option("-k", "--top", "k", type=click.IntRange(1, 100), default=DEFAULT_K, show_default=True,
              help="Images and patches per row: the top images, the top patches, the lowest images.")
@click.option("--size", type=click.IntRange(16, 4096), default=DEFAULT_SIZE, show_default=True,
              help="The square side the images are run at (their centre square, resized).")
@click.option("--batch", type=click.IntRange(1, 1024), default=DEFAULT_BATCH, show_default=True,
              help="Images per forward pass.")
@click.option("--tile", type=click.IntRange(16, 1024), default=DEFAULT_TILE, show_default=True,
              help="Each sheet tile's side in pixels.")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="The folder for the sheets and examples.json. [default: outputs/examples_<model>]")
@click.option("--overwrite", is_flag=True, help="Replace existing sheets instead of choosing free names.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@model_options
@config_file_options
def examples_command(images, layers, **options):
    """Which images of FOLDER excite a channel most (and least), and which patches of them.

    Writes a contact sheet per channel (a row of the top images, a row of
    the top patches, each the receptive field of the channel's strongest
    position, and a row of the least-activating images) and examples.json
    with paths, boxes and scores. Activations are cached per model, layer,
    image and size: other channels of the same layer are ranked at once, and
    an interrupted run resumes.

    \b
    Examples:
      dream examples photos/ --layer block5c_add --channels 0-7
      dream examples photos/ -l block3b_add -l block5c_add --most-selective 6
      dream examples coins/ --model coins.keras --preprocess unit --channels 0
    """
    from dreamer.dataset.examples import ExamplesRequest

    channels, most_active, most_selective, k, size, batch, tile, output, overwrite, quiet = (
        options.pop(name) for name in ("channels", "most_active", "most_selective", "k", "size", "batch", "tile",
                                       "output", "overwrite", "quiet"))
    say = make_say(quiet)
    model = take(ModelChoice, options)
    with usage_errors():
        choice = channel_choice(channels, most_active, most_selective)
        model = replace(model, model=preflight(images, model.model, layers, choice))
    with user_errors():
        adapter = load_adapter(model, quiet=quiet)
        request = ExamplesRequest(tuple(layers) or (adapter.default_layer,), choice, k, size, batch)
        folder = Path(output) if output else Path("outputs") / f"examples_{Path(adapter.name).stem}"
        with signals_as_exceptions():
            found, written = run_examples(adapter, images, request, (folder, tile, overwrite),
                                          (model.cache_dir, quiet))
    say(f"wrote {len(found)} sheets and {written} ({len(request.layers)} layer(s), {size} px)")


def run_examples(adapter, images: str, request, target: tuple, where: tuple):
    """Find the examples with a progress bar, write them; returns (the ChannelExamples, the JSON path).

    ``target`` is (folder, tile side, overwrite); ``where`` is (--cache-dir, quiet).
    """
    from dreamer.cli.common import cache_folder
    from dreamer.dataset.collect import find_pictures
    from dreamer.dataset.examples import find_examples, store_for
    from dreamer.dataset.sheets import write_examples

    folder, tile, overwrite = target
    cache_dir, quiet = where
    pictures = find_pictures(Path(images))
    store = store_for(adapter, cache_folder(cache_dir) / "activations", request.size)
    with ImageBar(quiet) as bar:
        found = find_examples(adapter, pictures, request, store, bar.update)
    context = {"model": adapter.name, "images": str(images), "size": request.size, "k": request.k}
    return found, write_examples(found, folder, tile, overwrite, context)


class ImageBar(LazyBar):
    """Images through the network, fed ``update(done, total)``."""

    def __init__(self, quiet: bool, label: str = "activations"):
        super().__init__(quiet)
        self.label, self._done = label, 0

    def update(self, done: int, total: int) -> None:
        if not self.quiet:
            self.advance(done - self._done, length=total, label=self.label, show_pos=True)
        self._done = done
