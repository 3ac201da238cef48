"""``dream classify IMAGE...``: what a classifier sees, its top classes with probabilities."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dreamer.cli.common import (
    EXIT_FAILED_INPUT,
    ModelChoice,
    input_name_option,
    load_adapter,
    model_options,
    naming,
    signals_as_exceptions,
    user_errors,
)
from dreamer.cli.options import setting_option
from dreamer.errors import DreamerError
from dreamer.settings import TOP_SETTING


@click.command("classify")
@click.argument("images", nargs=-1, required=True, type=click.Path(), metavar="IMAGE...")
@setting_option("top", TOP_SETTING, 5)
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A text file of class names, one per line, for your own classifier.")
@model_options
@input_name_option
def classify_command(images, top, labels, **model_choice):
    """Show what a classifier sees in IMAGE: its top classes with probabilities.

    This is also how to check that a model and its preprocessing are right.

    \b
    Examples:
      dream classify samples/chelsea.png
      dream classify --model my_classifier.keras --labels classes.txt photo.jpg
    """
    readable, failures = readable_images([Path(image) for image in images])
    if not readable:
        sys.exit(EXIT_FAILED_INPUT)
    with user_errors():
        adapter = load_adapter(ModelChoice(**model_choice), labels, classifier=True)
    with signals_as_exceptions():
        for image in readable:
            try:
                click.echo(classify_text(adapter, Path(image), top))
            except DreamerError as exc:
                failures += 1
                click.echo(f"Error: {naming(Path(image), exc)}", err=True)
    if failures:
        sys.exit(EXIT_FAILED_INPUT)


def readable_images(paths: list[Path]) -> tuple[list[Path], int]:
    """The images whose headers read (checked before TensorFlow loads), and how many did not (each reported)."""
    from dreamer.cli.preflight import image_size

    readable, failures = [], 0
    for path in paths:
        try:
            image_size(path)
        except DreamerError as exc:
            failures += 1
            click.echo(f"Error: {naming(path, exc)}", err=True)
            continue
        readable.append(path)
    return readable, failures


def classify_text(adapter, path: Path, top: int) -> str:
    """The image's top classes with probabilities, one a line."""
    from dreamer.classify import classify
    from dreamer.images import load_image

    if not adapter.labels:
        raise DreamerError(f"model {adapter.name!r} has no class names; pass --labels FILE")
    predictions = classify(adapter, load_image(path).rgb, top)
    lines = [f"{click.format_filename(str(path))}:"]
    lines += [f"  {prob * 100:6.2f}%  {label}" for label, prob in predictions]
    return "\n".join(lines)
