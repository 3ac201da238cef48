"""``dream`` into a folder: the resumable batch (``dreamer.batch``) with its progress lines.

When the results go to a folder (several inputs, a folder or a pattern, or
``-o`` naming a folder), ``dream`` renders through the batch: a rerun of the
same command renders only what is missing, two runs side by side share the
work, and the output folder's ``dreamer-manifest.jsonl`` records every result.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import click

from dreamer.cli.common import EXIT_FAILED_INPUT, make_say, signals_as_exceptions, user_errors
from dreamer.errors import DreamerError


@dataclass(frozen=True)
class BatchFlags:
    """How a batch runs: search sub-folders, render everything again, replace files, say nothing."""

    recursive: bool = False
    force: bool = False
    overwrite: bool = False
    quiet: bool = False


def run_batch(inputs: list[str], output: str | None, model, config_settings: dict, chosen: dict, max_size,
              cache_dir, flags: BatchFlags, executor_for=None) -> None:
    """Render ``inputs`` into the output folder, resuming what an earlier run left; exits 1 if any failed.

    ``executor_for(recipe)`` returns the ``dreamer.executors.Executor`` that
    renders the jobs (its workers built by
    ``functools.partial(dreamer.batch.worker.build_worker, recipe)``); by
    default this process renders them, with the model loaded here once.
    """
    from dreamer.executors import LocalExecutor
    from dreamer.executors.tally import Tally, shares_text

    with user_errors():
        batch, dreamer, recipe = prepare_batch(inputs, output, model, config_settings, chosen, max_size,
                                               cache_dir, flags)
        executor = Tally(executor_for(recipe) if executor_for is not None
                         else LocalExecutor(lambda: local_worker(dreamer, recipe, flags.quiet)))
    with signals_as_exceptions():
        try:
            summary = batch.run(executor)
        except DreamerError as exc:  # the manifest can't be written: nothing more can be recorded
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
        finally:
            executor.close()
    from dreamer.batch.progress import summary_text

    make_say(flags.quiet)(summary_text(summary))
    if executor_for is not None and executor.shares:
        make_say(flags.quiet)("per worker:\n" + shares_text(executor.shares))
    if summary.failed:
        sys.exit(EXIT_FAILED_INPUT)


def prepare_batch(inputs, output, model, config_settings, chosen, max_size, cache_dir, flags: BatchFlags):
    """Find the inputs, load the model (checking every setting), and plan the batch; before any work.

    Returns:
        (the Batch, the loaded Dreamer, the recipe).

    Raises:
        DreamerError: no images, a bad model, layer or setting.
    """
    from dreamer.batch import Batch, find_inputs, make_recipe, plan_items, result_names
    from dreamer.batch.settings import MODEL_DEFAULTS
    from dreamer.cli.dream import make_dreamer, resolve_model
    from dreamer.outputs import output_folder

    chosen = {**MODEL_DEFAULTS, **chosen}
    say = make_say(flags.quiet)
    folder = output_folder(output)
    found = find_inputs(inputs, flags.recursive, exclude=folder)
    if found.skipped:
        say(f"skipped {found.skipped} file(s) that are not images (e.g. {found.skipped_examples[0]})")
    for empty in found.empty_folders:  # shown even with --quiet: an input the user named gave nothing
        hint = "" if flags.recursive else " (--recursive searches its sub-folders)"
        click.echo(f"{empty}: no images in this folder{hint}", err=True)
    if not found.inputs:
        raise DreamerError(f"no images to render in {', '.join(inputs)}")
    model = resolve_model(model, list(chosen["layers"]), cache_dir, say)
    dreamer = make_dreamer(model, list(chosen["layers"]), chosen["loss"], cache_dir, chosen["weights"],
                           chosen["preprocess"], chosen["classes"], chosen["guide"], unsafe_load=chosen["unsafe_load"],
                           quiet=flags.quiet, say=say, precision=chosen["precision"])
    recipe = make_recipe(model, config_settings, max_size, **chosen)
    names = result_names(found.inputs, dreamer.adapter.name, dreamer.objective.name)
    batch = Batch(folder, plan_items(found.inputs, names), recipe, force=flags.force, overwrite=flags.overwrite,
                  report=progress_reporter(flags.quiet))
    return batch, dreamer, recipe


def progress_reporter(quiet: bool):
    """A ``BatchEvent`` handler: failures always (as ``error: ...``), the rest unless quiet."""
    from dreamer.batch.progress import progress_text, start_text

    def report(event) -> None:
        if event.kind == "failed":
            click.echo(f"error: {event.message}", err=True)
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
