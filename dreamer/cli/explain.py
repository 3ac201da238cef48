"""``dream explain``: which pixels made the network decide, with the measurements that say how far to trust it.

A thin shell over ``dreamer.attribution``: the options become a method list,
a target and ``ExplainSettings``; what needs no model (the methods, the
layer and class names of a registered model, the inputs, -o) is checked
before TensorFlow loads; the photos go through the resumable batch
(``dreamer.batch``: manifest, resume, ``--executor ray``), each result being
a figure with one side file per method (overlay, ``.npy``) and a JSON record.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from dreamer.cli.batch import batch_inputs, progress_reporter
from dreamer.cli.common import (
    EXIT_FAILED_INPUT,
    input_name_option,
    make_say,
    model_options,
    signals_as_exceptions,
    usage_errors,
    user_errors,
)
from dreamer.cli.configured import ConfiguredCommand, config_file_options
from dreamer.cli.executors import ExecutorChoice, check_executor_options, executor_options
from dreamer.cli.options import setting_option
from dreamer.cli.shared import BatchFlags
from dreamer.settings import MAX_SIZE_SETTING

DEFAULT_FOLDER = "outputs/explain"
SHEET_NAME = "explain_sheet.png"


@click.command("explain", cls=ConfiguredCommand, table="explain")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(), metavar="IMAGE|FOLDER|GLOB...")
@click.option("--method", "methods", multiple=True, metavar="NAME[,NAME...]",
              help="gradients, smoothgrad, integrated-gradients (ig), gradcam, gradcam++, scorecam, occlusion, "
                   "or all; repeatable or comma-separated. [default: gradcam,smoothgrad]")
@click.option("-c", "--class", "class_name", default=None, metavar="NAME|INDEX",
              help="Explain this class (a name from the model's labels, or an index). [default: the predicted class]")
@click.option("-t", "--target", default=None, metavar="OBJECTIVE",
              help="Explain an objective instead of a class: a channel (block5c_add:37), a neuron "
                   "(block5c_add:37@center), a layer, class(NAME), as 'dream --layer' reads them.")
@click.option("--cam-layer", default="", metavar="LAYER",
              help="The layer of Grad-CAM, Grad-CAM++ and Score-CAM. [default: the last layer with height and "
                   "width; for a --target layer objective, its own layer]")
@click.option("--baseline", type=click.Choice(["black", "blurred", "noise"]), default="black", show_default=True,
              help="Where Integrated Gradients' path starts.")
@click.option("--samples", type=click.IntRange(1, 1000), default=24, show_default=True,
              help="SmoothGrad's noisy copies and Integrated Gradients' path steps.")
@click.option("--size", type=click.IntRange(0, 4096), default=0, show_default=True,
              help="The short side (px) the network sees the photo at; maps are upsampled for the overlays. "
                   "0: the model's classification size (224 for the default model).")
@click.option("--batch", "batch_size", type=click.IntRange(1, 1024), default=16, show_default=True,
              help="Images per forward/backward pass (lower it if memory is short).")
@click.option("--seed", type=int, default=0, show_default=True, help="For SmoothGrad's noise and the check's shuffles.")
@click.option("--check", is_flag=True,
              help="Measure each map: deletion and insertion areas, and the model-randomisation sanity check; "
                   "print a table per method.")
@click.option("--sheet", is_flag=True,
              help=f"Also write {SHEET_NAME}: every photo's methods side by side, one row each.")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help=f"The output folder. [default: {DEFAULT_FOLDER}/]")
@setting_option("max_size", MAX_SIZE_SETTING, None)
@click.option("--overwrite", is_flag=True, help="Replace existing files that are not this batch's results.")
@click.option("--force", is_flag=True, help="Explain every photo again, even those the folder's manifest has.")
@click.option("-r", "--recursive", is_flag=True, help="Also take the images in sub-folders of a folder input.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no messages, only errors (and the --check table).")
@executor_options
@model_options
@input_name_option
@config_file_options
def explain_command(inputs, **options):
    """Which pixels made the network decide? Attribution maps over each photo, and whether to trust them.

    Writes, per photo, a figure (the photo and each method's heat map, the
    class and its probability), one overlay and one raw map (.npy) per
    method, and a JSON record of every setting and measurement.

    \b
    Examples:
      dream explain samples/chelsea.png
      dream explain --method gradcam,smoothgrad,occlusion --check samples/ --sheet
      dream explain --class 'tiger cat' --method ig --baseline blurred photo.jpg
      dream explain --target block5c_add:37 photo.jpg     # which pixels drive channel 37
      dream explain --model my_net.keras --preprocess unit --cam-layer conv3 coins/
      dream explain --executor ray --workers 4 photos/ -o maps/
    """
    from dreamer.attribution.results import explain_recipe

    say = make_say(options["quiet"])
    flags = BatchFlags(options["recursive"], options["force"], options["overwrite"], options["quiet"])
    output = options["output"] or f"{DEFAULT_FOLDER}/"
    with usage_errors():  # everything here is answered before TensorFlow loads
        methods, settings, spec = parsed_request(options)
        check_executor_options(ExecutorChoice(options["executor"], options["ray_address"], options["workers"]), True)
        model = checked_model(options["model"], spec, settings.cam_layer, methods, say)
        found, unreadable = batch_inputs(list(inputs), output, model, options["max_size"], flags)
        labels = result_labels(model, spec)
        recipe = explain_recipe(model, methods, spec, settings, options["check"], labels,
                                max_size=options["max_size"], weights=options["weights"],
                                preprocess=options["preprocess"], unsafe_load=options["unsafe_load"],
                                input_name=options["input_name"])
        batch = planned_batch(found, output, labels, recipe, flags)
    executor = batch_executor(batch, model, recipe, options, flags)
    run_and_report(batch, executor, unreadable, options, say)


def parsed_request(options: dict):
    """(methods, ExplainSettings, TargetSpec) from the options.

    Raises:
        DreamerError: an unknown method, or --class with --target.
    """
    from dreamer.attribution import ExplainSettings, parse_methods
    from dreamer.attribution.network import TargetSpec
    from dreamer.errors import DreamerError

    methods = parse_methods(options["methods"])
    settings = ExplainSettings(size=options["size"], batch=options["batch_size"], samples=options["samples"],
                               baseline=options["baseline"], cam_layer=options["cam_layer"], seed=options["seed"])
    if options["class_name"] is not None and options["target"] is not None:
        raise DreamerError("give --class or --target, not both")
    if options["class_name"] is not None:
        spec = TargetSpec("class", options["class_name"].strip())
    elif options["target"] is not None:
        spec = TargetSpec("objective", options["target"])
    else:
        spec = TargetSpec()
    return methods, settings, spec


def checked_model(model, spec, cam_layer: str, methods, say) -> str:
    """The model to load, with the target's layers, the CAM layer and a class name checked against a
    registered model's shipped names (a user's file is checked once loaded).

    Raises:
        DreamerError: an unknown layer or class (closest names), or a missing model file.
    """
    from dreamer.attribution.settings import LAYER_METHODS
    from dreamer.cli import preflight
    from dreamer.models import catalog, find_spec

    model = preflight.choose_model(model, [spec.text] if spec.kind == "objective" else [], say)
    registered = find_spec(model)
    if registered is None:
        return model
    if cam_layer and any(m in LAYER_METHODS for m in methods):
        catalog.check_layers(registered.name, [cam_layer])
    if spec.kind == "class" and registered.name != "inception5h":
        from dreamer.models.labels import IMAGENET_CLASS_COUNT, load_imagenet_labels
        from dreamer.objectives.terms import resolve_class

        resolve_class(spec.text, load_imagenet_labels(), IMAGENET_CLASS_COUNT, registered.name)
    return model


def result_labels(model: str, spec) -> tuple[str, str]:
    """The (model, objective) labels in the results' names: ``explain`` or ``explain-<target>``."""
    from dreamer.models import find_spec

    registered = find_spec(model)
    return (registered.name if registered else model), "explain" if spec.kind == "predicted" else f"explain-{spec.text}"


def planned_batch(found, output: str, labels, recipe: dict, flags: BatchFlags):
    """The Batch of the found photos into the output folder (made), each result named by ``labels``."""
    from dreamer.batch import Batch, plan_items, result_names
    from dreamer.outputs import output_folder

    return Batch(output_folder(output), plan_items(found, result_names(found, *labels)), recipe, force=flags.force,
                 overwrite=flags.overwrite, report=progress_reporter(flags.quiet))


def batch_executor(batch, model: str, recipe: dict, options: dict, flags: BatchFlags):
    """Who explains the photos left: nobody new when none is left; else Ray's workers, or this process
    with the model loaded (and the target and CAM layer checked on it) here once."""
    from dreamer.attribution.results import build_explain_worker
    from dreamer.cli.shared import ensure_network
    from dreamer.executors import LocalExecutor
    from dreamer.executors.tally import Tally

    cache_dir = options["cache_dir"]
    if not batch.todo():
        return Tally(LocalExecutor(functools.partial(build_explain_worker, recipe, cache_dir)))
    with usage_errors():
        ensure_network(model, cache_dir, options["weights"], flags.quiet)
    with user_errors():
        adapter = loaded_model(model, recipe, options)
    if options["executor"] == "ray":
        from dreamer.executors.ray import RayExecutor

        folder = str(Path(cache_dir).resolve()) if cache_dir else None
        return Tally(RayExecutor(functools.partial(build_explain_worker, recipe, folder),
                                 options["ray_address"], options["workers"]))
    return Tally(LocalExecutor(lambda: local_worker(adapter, recipe, flags.quiet)))


def loaded_model(model: str, recipe: dict, options: dict):
    """The adapter, with the target and CAM layer checked on it (one line, exit 2, on a mistake)."""
    from dreamer.attribution.network import TargetSpec
    from dreamer.attribution.run import check_request
    from dreamer.attribution.settings import ExplainSettings
    from dreamer.cli.common import ModelChoice, load_adapter

    choice = ModelChoice(model, options["weights"], options["preprocess"], options["unsafe_load"],
                         options["cache_dir"], options["input_name"])
    adapter = load_adapter(choice, quiet=options["quiet"])
    check_request(adapter, recipe["methods"], TargetSpec(**recipe["target"]),
                  ExplainSettings.from_dict(recipe["settings"]))
    return adapter


def local_worker(adapter, recipe: dict, quiet: bool):
    """This process's worker, saying which method runs on which photo."""
    from dreamer.attribution.results import render_explain_job

    def render(job):
        def progress(method: str) -> None:
            if not quiet:
                click.echo(f"  {method}", err=True)

        return render_explain_job(adapter, job, "local", progress)

    return render


def run_and_report(batch, executor, unreadable, options: dict, say) -> None:
    """Run the batch, then the summary, the --check table and the --sheet; exits 1 if a photo failed."""
    from dreamer.attribution.summary import finished_records, sheet_png, trust_table
    from dreamer.batch.progress import summary_text
    from dreamer.errors import DreamerError

    with signals_as_exceptions():
        try:
            summary = batch.run(executor)
        except DreamerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
        finally:
            executor.close()
    summary.failed[:0] = unreadable
    say(summary_text(summary))
    if options["executor"] == "ray" and executor.shares:
        from dreamer.executors.tally import shares_text

        say("per worker:\n" + shares_text(executor.shares))
    if options["check"]:
        click.echo(trust_table(finished_records(batch)))
    if options["sheet"]:
        write_sheet(batch, sheet_png(batch), options["overwrite"], say)
    if summary.failed:
        sys.exit(EXIT_FAILED_INPUT)


def write_sheet(batch, data: bytes | None, overwrite: bool, say) -> None:
    """The sheet into the output folder (a free ``_N`` name if one is there, unless ``overwrite``)."""
    from dreamer.batch.runner import write_atomically
    from dreamer.outputs import free_name

    if data is None:
        return
    path = batch.folder / SHEET_NAME
    path = path if overwrite else free_name(path)
    write_atomically(path, data)
    say(f"wrote {path}")
