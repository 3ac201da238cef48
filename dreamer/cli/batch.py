"""``dream`` into a folder: the resumable batch (``dreamer.batch``) with its progress lines.

When the results go to a folder (several inputs, a folder or a pattern, or
``-o`` naming a folder), ``dream`` renders through the batch: a rerun of the
same command renders only what is missing, two runs side by side share the
work, and the output folder's ``dreamer-manifest.jsonl`` records every result.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click

from dreamer.cli.common import EXIT_FAILED_INPUT, make_say, signals_as_exceptions, usage_errors, user_errors
from dreamer.cli.shared import BatchFlags, DreamRequest
from dreamer.errors import DreamerError


def run_batch(request: DreamRequest, executor_for=None) -> None:
    """Render the request's inputs into its output folder, resuming what an earlier run left; exits 1 if any failed.

    ``executor_for(recipe)`` returns the ``dreamer.executors.Executor`` that
    renders the jobs (its workers built by
    ``functools.partial(dreamer.batch.worker.build_worker, recipe)``); by
    default this process renders them, with the model loaded here once. When
    the manifest already has every result, no model is loaded and no executor is started.
    """
    from dreamer.batch import make_recipe
    from dreamer.batch.worker import build_worker
    from dreamer.cli.shared import ensure_network
    from dreamer.executors import LocalExecutor
    from dreamer.executors.tally import Tally, shares_text

    inputs, output, model, flags, cache_dir = list(request.inputs), request.output, request.model, request.flags, \
        request.cache_dir
    with usage_errors():  # answered before TensorFlow loads
        found, unreadable = batch_inputs(inputs, output, model, request.max_size, flags)
        recipe = make_recipe(model, request.config_settings, request.max_size, **request.chosen)
        batch = recorded_batch(found, output, recipe, flags)
    if batch is not None and not batch.todo():  # a worker is built only if a result vanishes meanwhile
        executor = Tally(LocalExecutor(functools.partial(build_worker, recipe, cache_dir)))
    else:
        with usage_errors():
            ensure_network(model, cache_dir, request.chosen.get("weights"), flags.quiet)
        with user_errors():
            batch, dreamer = prepare_batch(batch, found, request, recipe)
            executor = Tally(executor_for(recipe) if executor_for is not None
                             else LocalExecutor(lambda: local_worker(dreamer, recipe, flags.quiet)))
    with signals_as_exceptions():
        try:
            summary = batch.run(executor)
        except DreamerError as exc:  # the manifest can't be written: nothing more can be recorded
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
        finally:
            executor.close()
    from dreamer.batch.progress import summary_text

    summary.failed[:0] = unreadable
    make_say(flags.quiet)(summary_text(summary))
    if executor_for is not None and executor.shares:
        make_say(flags.quiet)("per worker:\n" + shares_text(executor.shares))
    if summary.failed:
        sys.exit(EXIT_FAILED_INPUT)


def batch_inputs(inputs, output, model, max_size, flags: BatchFlags):
    """The inputs to render, found and checked before TensorFlow loads.

    Every input's header is read: one that is not a readable image, or is
    too small for the model, is reported at once and left out; if none is
    left, the command ends with exit code 1.

    Returns:
        (the readable ``dreamer.batch.Input``s, the (input, reason) of each one left out).

    Raises:
        DreamerError: the arguments name no images at all.
    """
    from dreamer.batch import find_inputs
    from dreamer.cli import preflight
    from dreamer.cli.shared import checked_inputs
    from dreamer.outputs import DEFAULT_OUTPUT_DIR

    say = make_say(flags.quiet)
    found = find_inputs(inputs, flags.recursive, exclude=Path(output) if output else DEFAULT_OUTPUT_DIR)
    if found.skipped:
        say(f"skipped {found.skipped} file(s) that are not images (e.g. {found.skipped_examples[0]})")
    for empty in found.empty_folders:  # shown even with --quiet: an input the user named gave nothing
        hint = "" if flags.recursive else " (--recursive searches its sub-folders)"
        click.echo(f"{empty}: no images in this folder{hint}", err=True)
    if not found.inputs:
        raise DreamerError(f"no images to render in {', '.join(inputs)}")
    good, unreadable = checked_inputs([item.path for item in found.inputs], max_size,
                                      preflight.model_min_side(model), say)
    if not good:
        sys.exit(EXIT_FAILED_INPUT)
    return [item for item in found.inputs if item.path in set(good)], unreadable


def recorded_batch(found, output, recipe: dict, flags: BatchFlags):
    """The batch, its results named as the manifest's finished results of ``recipe`` were named (so no
    model is needed to see what is done), or None when the manifest has none.

    Raises:
        DreamerError: the output folder is a file, or can't be made or written.
    """
    from dreamer.batch import Manifest, recorded_labels
    from dreamer.outputs import output_folder

    folder = output_folder(output)
    manifest = Manifest.open(folder)
    labels = recorded_labels(manifest, recipe)
    return None if labels is None else named_batch(folder, found, labels, recipe, flags, manifest)


def prepare_batch(planned, found, request: DreamRequest, recipe: dict):
    """Load the model (checking every setting) and name the batch of the ``found`` inputs by it; before any work.

    ``planned`` (the ``recorded_batch``, or None) is kept when the model names its results alike.

    Returns:
        (the Batch, the loaded Dreamer).

    Raises:
        DreamerError: a bad model, layer or setting, or an output folder that can't be made.
    """
    from dreamer.batch import result_names
    from dreamer.cli.shared import make_dreamer
    from dreamer.outputs import output_folder

    dreamer = make_dreamer({**request.chosen, "model": request.model}, request.cache_dir, quiet=request.flags.quiet,
                           say=request.say)
    labels = (dreamer.adapter.name, dreamer.objective.name)
    if planned is not None and [item.key for item in planned.items] == [str(n) for n in result_names(found, *labels)]:
        return planned, dreamer  # named alike, and its inputs are hashed already
    return named_batch(output_folder(request.output), found, labels, recipe, request.flags), dreamer


def named_batch(folder, found, labels: tuple[str, str], recipe: dict, flags: BatchFlags, manifest=None):
    """The Batch of the ``found`` inputs, each result named with the (model, objective) ``labels``."""
    from dreamer.batch import Batch, plan_items, result_names

    return Batch(folder, plan_items(found, result_names(found, *labels)), recipe, force=flags.force,
                 overwrite=flags.overwrite, report=progress_reporter(flags.quiet), manifest=manifest)


def progress_reporter(quiet: bool):
    """A ``BatchEvent`` handler: failures always (as ``Error: ...``), the rest unless quiet."""
    from dreamer.batch.progress import progress_text, start_text

    def report(event) -> None:
        if event.kind == "failed":
            click.echo(f"Error: {event.message}", err=True)
            return
        text = start_text(event) if event.kind == "start" else progress_text(event)
        if text and not quiet:
            click.echo(text, err=True)

    return report


def local_worker(dreamer, recipe: dict, quiet: bool):
    """The batch worker of this process: the loaded ``dreamer``, with a step bar per image."""
    from dreamer.batch.worker import render_job
    from dreamer.cli.progress import StepBar
    from dreamer.images import load_image

    mask = load_image(recipe["mask"]) if recipe.get("mask") else None

    def render(job):
        with StepBar(click.format_filename(os.path.relpath(job.name)), quiet) as bar:
            return render_job(dreamer, job, mask, "local", bar.update)

    return render
