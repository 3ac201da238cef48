"""``dream [OPTIONS] INPUT...``: dream on images, with a progress bar per input."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from dreamer.cli.batch import BatchFlags, run_batch
from dreamer.cli.common import (
    DEFAULT_MODEL_NAME,
    EXIT_FAILED_INPUT,
    cache_folder,
    make_say,
    model_options,
    naming,
    signals_as_exceptions,
    user_errors,
    weights_from_environment,
)
from dreamer.cli.configured import ConfiguredCommand, settings_file_options
from dreamer.cli.executors import check_executor_options, executor_for, executor_options
from dreamer.cli.options import config_options
from dreamer.errors import DreamerError


class _DefaultCommandContext(click.Context):
    """The default command's context: its usage reads ``dream [OPTIONS] INPUT...``, not ``dream run ...``."""

    @property
    def command_path(self) -> str:
        return self.parent.command_path if self.parent is not None else self.info_name


class DefaultCommand(ConfiguredCommand):
    """The command that runs when ``dream`` is given no subcommand; it reads as ``dream`` itself.

    Its defaults can come from settings files and presets (``dreamer.cli.configured``).
    """

    context_class = _DefaultCommandContext


@click.command("run", cls=DefaultCommand)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(), metavar="INPUT...")
@click.option("-l", "--layer", "layers", multiple=True, metavar="OBJECTIVE",
              help="What to excite: a layer, channels, a neuron, a class, or a weighted sum of them (see "
                   "the objective forms above); repeat to add more. [default: the model's default layer]")
@click.option("-c", "--class", "classes", multiple=True, metavar="NAME|INDEX",
              help="Also maximise the logit of this class of a classifier (e.g. 'tabby' or 281); repeatable. "
                   "Alone, it replaces the default layer.")
@click.option("--guide", type=click.Path(exists=True, dir_okay=False), default=None, metavar="IMG",
              help="Dream towards the features this image produces at the chosen layer(s) (whole layers only).")
@click.option("--mask", type=click.Path(exists=True, dir_okay=False), default=None, metavar="IMG",
              help="Only the white part of this image changes; grey blends; black stays exactly as the input. "
                   "Stretched to each input's size.")
@config_options
@click.option("--max-size", type=click.IntRange(min=1), default=None,
              help="Downscale the input so its long side is at most this. [default: full resolution]")
@click.option("--loss", type=click.Choice(["l2", "mean"]), default=None,
              help="l2: mean squared activation (DeepDream); mean: mean activation. Applies to every layer, "
                   "channel and neuron term without its own [l2]/[mean]; a class is always its logit. "
                   "[default: l2 for whole layers, mean for channels and neurons]")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file, or a folder for several inputs. [default: outputs/<input>_<model>_<layer>.png]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file instead of choosing a free name.")
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto", show_default=True,
              help="The network's arithmetic. auto: bfloat16 on CPUs with AVX512-BF16/AMX and on GPUs that "
                   "have it natively, float32 elsewhere. The image and its update stay float32.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@click.option("-r", "--recursive", is_flag=True, help="Also take the images in sub-folders of a folder INPUT.")
@click.option("--force", is_flag=True,
              help="Render every input again, even those whose result the output folder's manifest has.")
@executor_options
@model_options
@settings_file_options
def dream_command(inputs, layers, classes, guide, mask, max_size, loss, output, overwrite, precision, quiet,
                  recursive, force, executor, ray_address, workers, model, weights, preprocess, unsafe_load,
                  cache_dir, config, preset, **config_settings):
    """Dream on INPUT images: make the network's favourite patterns grow in them.

    \b
    Objective forms (--layer):
      block5c_add                  a whole layer
      block5c_add:97               one channel
      block5c_add:97,98,0-7        several channels (ranges allowed)
      block5c_add:97@center        one neuron: channel 97 at the feature map's centre
      class(tabby), class(281)     the logit of a class (or use --class)
      'block5c_add + 0.5*block4c_add:12'   a weighted sum
      'block5c_add - 0.3*block3b_add'      a negative weight suppresses
      block5c_add:97[l2]           a term's own loss, [l2] or [mean]
      block5c_add=0.5              a weight, the older form

    \b
    Examples:
      dream samples/chelsea.png
      dream --layer block4c_add --iterations 20 photo.jpg -o dreamy.png
      dream --layer block5c_add=1 --layer block3b_add=0.5 photo.jpg
      dream --layer 'block5c_add:97 + 0.5*block4c_add - 0.3*block3b_add' photo.jpg
      dream --class tabby --mask face_mask.png photo.jpg
      dream --layer block4c_add --guide flowers.jpg photo.jpg
      dream --max-size 1024 --seed 42 *.jpg -o results/
      dream photos/ --recursive -o results/   # again: renders only what is missing
      dream --executor ray --workers 4 photos/ -o results/   # on Ray workers
      dream --preset deep photo.jpg           # 'dream presets' lists them
      dream --config look.toml photo.jpg      # settings kept in a file
      dream --show-config --preset deep       # what would be used, and from where
      dream --layer mixed4c photo.jpg     # GoogLeNet, as in 2015
      dream --model my_net.keras --preprocess unit photo.jpg
      dream layers            # the layers you can name
      dream atlas --layer block5c_add --channels 0-15
    """
    from dreamer.batch.settings import make_recipe
    from dreamer.images import load_image
    from dreamer.outputs import is_folder_output, name_outputs, plan_outputs

    with user_errors():
        check_executor_options(executor, ray_address, workers, is_folder_output(list(inputs), output))
    if is_folder_output(list(inputs), output):
        chosen = dict(layers=layers, classes=classes, loss=loss, guide=guide, mask=mask, weights=weights,
                      preprocess=preprocess, unsafe_load=unsafe_load, precision=precision)
        run_batch(list(inputs), output, model, config_settings, chosen, max_size, cache_dir,
                  BatchFlags(recursive, force, overwrite, quiet), executor_for(executor, ray_address, workers))
        return
    say = make_say(quiet)
    with user_errors():
        config = make_config(**config_settings)
        targets = plan_outputs([Path(p) for p in inputs], output)
        mask_image = None if mask is None else load_image(mask)
        model = resolve_model(model, list(layers), cache_dir, say)
        dreamer = make_dreamer(model, list(layers), loss, cache_dir, weights, preprocess, classes, guide,
                               unsafe_load=unsafe_load, quiet=quiet, say=say, precision=precision)
        targets = name_outputs(targets, dreamer.adapter.name, dreamer.objective.name, overwrite, say)
        recipe = make_recipe(model, asdict(config), max_size, layers=layers, classes=classes, loss=loss, guide=guide,
                             mask=mask, weights=weights, preprocess=preprocess, unsafe_load=unsafe_load,
                             precision=precision)
    failures = 0
    with signals_as_exceptions():
        for target in targets:
            try:
                written = dream_file(dreamer, target, config, max_size, quiet, mask_image, recipe)
            except DreamerError as exc:
                failures += 1
                click.echo(f"error: {naming(target.input, exc)}", err=True)
                continue
            say(f"wrote {written} (seed {config.seed})")
    if failures:
        sys.exit(EXIT_FAILED_INPUT)


def make_config(seed: int | None, **config_settings):
    """A DreamConfig from the options; a missing seed is drawn now (and recorded)."""
    from dreamer.api import new_seed
    from dreamer.config import DreamConfig

    return DreamConfig(seed=new_seed() if seed is None else seed, **config_settings)


def make_dreamer(model, layers: list[str], loss: str | None, cache_dir, weights, preprocess,
                 classes: tuple[str, ...] = (), guide: str | None = None, *,
                 unsafe_load: bool = False, quiet: bool = False, say=None, precision: str = "auto"):
    """Load the model once, prepare the objective (checks every layer, channel
    and class) and build the gradient (so a model that can't run in the asked
    precision is refused before any work).

    Without ``model``, layers that the default model lacks but exactly one
    registered model has choose that model (``say`` reports it).
    """
    from dreamer.api import Dreamer
    from dreamer.cli.progress import DownloadBar

    cache_dir = cache_folder(cache_dir)
    model = resolve_model(model, layers, cache_dir, say)
    with DownloadBar(quiet) as bar:
        dreamer = Dreamer(
            model, layers or None, loss=loss, cache_dir=cache_dir,
            weights=weights or weights_from_environment(model), preprocess=preprocess,
            unsafe_load=unsafe_load, download_progress=bar.update, classes=tuple(classes), guide=guide,
            precision=precision,
        )
    dreamer.gradient  # noqa: B018 - compiled once here for the whole batch
    return dreamer


def resolve_model(model, layers: list[str], cache_dir, say=None):
    """The model to load: the one asked for, else the registered one that has the layers, else the default."""
    from dreamer.models import model_for_layers
    from dreamer.objectives import combine

    if model is None and layers:
        model = model_for_layers(list(combine(layers).layer_names()), cache_folder(cache_dir),
                                 say or (lambda _msg: None))
    return model or DEFAULT_MODEL_NAME


def dream_file(dreamer, target, config, max_size: int | None, quiet: bool, mask=None, recipe=None) -> Path:
    """Load, dream and save one input (a ``dreamer.outputs.Target``); returns the path written.

    The result carries its settings, and with ``recipe`` (``dreamer.batch.settings``) also what
    ``dream again`` needs to render it again.

    Raises:
        DreamerError: the input can't be read, the dream failed, or the
            result can't be written (no partial file is left).
    """
    from dreamer.batch.worker import result_metadata
    from dreamer.cli.progress import StepBar
    from dreamer.images import save_image

    with StepBar(click.format_filename(str(target.input)), quiet) as bar:
        result = dreamer.dream(target.input, config, bar.update, max_size, mask)
    metadata = {**result.info["dreamer"], "input": target.input.name}
    if recipe is not None:
        metadata = result_metadata(result.info["dreamer"], str(Path(target.input).resolve()),
                                   target.input.read_bytes(), recipe)
    save_image(result, target.output, metadata)
    return target.output
