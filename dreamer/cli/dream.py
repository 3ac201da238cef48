"""``dream [OPTIONS] INPUT...``: dream on images, with a progress bar per input."""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

import click

from dreamer.cli import preflight
from dreamer.cli.batch import run_batch
from dreamer.cli.common import (
    EXIT_FAILED_INPUT,
    input_name_option,
    model_options,
    naming,
    signals_as_exceptions,
    take,
    usage_errors,
    user_errors,
)
from dreamer.cli.configured import ConfiguredCommand, settings_file_options
from dreamer.cli.executors import ExecutorChoice, check_executor_options, executor_for, executor_options
from dreamer.cli.noise import NoiseRequest, given_steps, noise_options, render_from_noise
from dreamer.cli.options import config_options, setting_option
from dreamer.cli.shared import DreamRequest, checked_inputs, make_config, make_dreamer, prepared_outputs
from dreamer.errors import DreamerError
from dreamer.settings import MAX_SIZE_SETTING


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
@click.argument("inputs", nargs=-1, type=click.Path(), metavar="INPUT...")
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
@setting_option("max_size", MAX_SIZE_SETTING, None)
@click.option("--loss", type=click.Choice(["l2", "mean"]), default=None,
              help="l2: mean squared activation (DeepDream); mean: mean activation. Applies to every layer, "
                   "channel and neuron term without its own [l2]/[mean]; a class is always its logit. "
                   "[default: l2 for whole layers, mean for channels and neurons]")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file for one input; a folder for several (a name with an image extension is "
                   "refused then). [default: outputs/<input>_<model>_<layer>.png]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file instead of choosing a free name.")
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto", show_default=True,
              help="The network's arithmetic. auto: bfloat16 on CPUs with AVX512-BF16/AMX and on GPUs that "
                   "have it natively, unless the network has depthwise convolutions (the default model has: "
                   "float32); float32 elsewhere. The image and its update stay float32.")
@noise_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@click.option("-r", "--recursive", is_flag=True, help="Also take the images in sub-folders of a folder INPUT.")
@click.option("--force", is_flag=True,
              help="Render again even when the result of the same input and settings is there already (in "
                   "the output folder's manifest, or the -o file); the new one takes a free _N name.")
@executor_options
@model_options
@input_name_option
@settings_file_options
@click.pass_context
def dream_command(ctx, inputs, **options):
    """Dream on INPUT images: make the network's favourite patterns grow in them.

    \b
    Objective forms (--layer):
      block5c_add                  a whole layer
      block5c_add:97               one channel
      block5c_add:97,98,0-7        several channels (ranges allowed)
      block5c_add:97@center        one neuron: channel 97 at the centre of the image
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
      dream --model my_graph.pb --preprocess 'mean=117,117,117;std=1,1,1' photo.jpg
      dream --keep-colors photo.jpg       # patterns in brightness only
      dream --param fft --layer block4c_add:12 --size 256    # render from noise
      dream layers            # the layers you can name
      dream atlas --layer block5c_add --channels 0-15
    """
    from dreamer.outputs import is_folder_output

    for source in ("config", "preset"):  # read by ConfiguredCommand already
        options.pop(source, None)
    noise = NoiseRequest(options.pop("param"), options.pop("noise_size"), options.pop("variants"))
    if bool(inputs) == bool(noise.param):
        raise click.UsageError("give INPUT images to dream on, or --param fft|pixels to render from noise (not both)")
    runner = take(ExecutorChoice, options)
    request = DreamRequest.from_options(inputs, options)
    with usage_errors():
        check_executor_options(runner, bool(inputs) and is_folder_output(list(inputs), request.output))
    if noise.param:
        render_from_noise(request, replace(noise, steps=given_steps(ctx, request.config_settings)))
        return
    with usage_errors():  # everything up to the model load is answered before TensorFlow loads
        config = make_config(**request.config_settings)
        request = replace(request, model=checked_setup(request))
        preflight.check_objective(request.model, list(request.chosen.get("layers") or ()),
                                  request.chosen.get("classes") or ())
    if is_folder_output(list(inputs), request.output):
        run_batch(request, executor_for(runner, request.cache_dir))
        return
    dream_one(request, config)


def dream_one(request: DreamRequest, config) -> None:
    """Dream the one INPUT file into the one ``-o`` file (or a free name beside it); exits 1 if it failed."""
    from dreamer.batch.settings import make_recipe
    from dreamer.outputs import name_outputs

    source = [Path(request.inputs[0])]  # the batch takes every folder output: here one input file, -o one file
    if checked_inputs(source, request.max_size, preflight.model_min_side(request.model), request.say)[1]:
        sys.exit(EXIT_FAILED_INPUT)
    asked = make_recipe(request.model, {**asdict(config), "seed": request.config_settings.get("seed")},
                        request.max_size, **request.chosen)
    if not request.flags.force and already_made(source[0], Path(request.output), asked, request.say):
        return
    with usage_errors():
        targets = prepared_outputs(source, request.output, request.model, request.cache_dir,
                                   request.chosen.get("weights"), request.flags.quiet)
    with user_errors():
        dreamer = make_dreamer({**request.chosen, "model": request.model}, request.cache_dir,
                               quiet=request.flags.quiet, say=request.say)
        targets = name_outputs(targets, dreamer.adapter.name, dreamer.objective.name, request.flags.overwrite)
        recipe = make_recipe(request.model, asdict(config), request.max_size, **request.chosen)
    if dream_all(dreamer, targets, config, request, recipe):
        sys.exit(EXIT_FAILED_INPUT)


def already_made(source: Path, output: Path, recipe: dict, say) -> bool:
    """Whether ``output`` is already the result of ``source`` and ``recipe`` (the seed only if it has one);
    if so, ``say`` names it and how to get a new one (the rule a batch follows in its folder)."""
    from dreamer.batch.progress import AGAIN_HINT
    from dreamer.batch.settings import same_result
    from dreamer.fileio import file_digest

    if not output.is_file():
        return False
    metadata = same_result(output, file_digest(source), recipe)
    if metadata is None:
        return False
    say(f"already done (same input and settings): {output} (seed {metadata.get('seed')}); {AGAIN_HINT}")
    return True


def checked_setup(request: DreamRequest) -> str:
    """The checks of the command line that need no model: ``-o``, the layer names (against the
    shipped names), the mask and guide images. Returns the model to load.

    Raises:
        DreamerError: the first mistake found.
    """
    from dreamer.images import load_image

    preflight.check_output([Path(p) for p in request.inputs], request.output)
    model = preflight.choose_model(request.model, list(request.chosen.get("layers") or ()), request.say)
    if request.chosen.get("mask") is not None:
        load_image(request.chosen["mask"])
    if request.chosen.get("guide") is not None:
        preflight.image_size(Path(request.chosen["guide"]))
    return model


def dream_all(dreamer, targets, config, request: DreamRequest, recipe=None) -> int:
    """Dream each target; report each written file (and why it was renamed); returns the failures."""
    failures = 0
    with signals_as_exceptions():
        for target in targets:
            try:
                written = dream_file(dreamer, target, config, request, recipe)
            except DreamerError as exc:
                failures += 1
                click.echo(f"Error: {naming(target.input, exc)}", err=True)
                continue
            renamed = f"; {target.renamed}" if target.renamed else ""
            request.say(f"wrote {written} (seed {config.seed}{renamed})")
    return failures


def dream_file(dreamer, target, config, request: DreamRequest, recipe=None) -> Path:
    """Load, dream and save one input (a ``dreamer.outputs.Target``); returns the path written.

    The result records every setting (the input, ``mask`` and guide by path and SHA-256
    included), and with ``recipe`` (``dreamer.batch.settings``) also what ``dream again``
    needs to render it again.

    Raises:
        DreamerError: the input can't be read, the dream failed, or the
            result can't be written (no partial file is left).
    """
    from dreamer.batch.worker import result_metadata
    from dreamer.cli.progress import StepBar
    from dreamer.images import save_image

    with StepBar(click.format_filename(str(target.input)), request.flags.quiet) as bar:
        result = dreamer.dream(target.input, config, bar.update, request.max_size, request.chosen.get("mask"))
    metadata = result.info["dreamer"]
    if recipe is not None:
        metadata = result_metadata(metadata, str(Path(target.input).resolve()), target.input.read_bytes(), recipe)
    save_image(result, target.output, metadata)
    return target.output
