"""The ``dream`` command: a thin click shell over ``dreamer.api``.

``dream [OPTIONS] INPUT...`` dreams; ``dream layers`` and ``dream classify``
inspect a model. TensorFlow is imported only inside the commands, so
``dream --help`` answers at once.

Exit codes: 0 all done; 1 at least one input failed (each is reported and
the others still run); 2 a bad command line, option, model or layer (found
before any work starts); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import math
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from dreamer import __version__
from dreamer.errors import DreamerError

EXIT_FAILED_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
#: Defaults repeated from DreamConfig so that --help needs no TensorFlow import.
DEFAULTS = {"iterations": 10, "octaves": 4, "octave_scale": 1.4, "step_size": 1.5, "jitter": 32}


class UserError(click.ClickException):
    """A mistake in the command line or its settings: one line, exit code 2."""

    exit_code = EXIT_USAGE


class Terminated(BaseException):
    """Raised by the SIGTERM handler so that clean-up runs as for Ctrl-C."""


class DefaultGroup(click.Group):
    """A group whose first argument, if not a subcommand, goes to ``run``.

    ``dream photo.jpg`` is ``dream run photo.jpg``; ``dream layers`` is the
    subcommand. ``dream --help`` shows the main command's help and the others.
    """

    default_command = "run"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):
        run_cmd = self.commands[self.default_command]
        with click.Context(run_cmd, info_name=ctx.info_name, parent=None) as sub:
            run_cmd.format_help(sub, formatter)
        with formatter.section("Other commands"):
            formatter.write_dl(
                [(name, cmd.get_short_help_str(60)) for name, cmd in self.commands.items() if name != "run"]
            )


def finite_float(minimum: float, exclusive: bool = False):
    """A click callback that refuses NaN, Inf and values at or below ``minimum``."""

    def check(ctx, param, value):
        if value is None:
            return value
        if not math.isfinite(value) or value < minimum or (exclusive and value == minimum):
            relation = "above" if exclusive else "at least"
            raise click.BadParameter(f"{value} is not a number {relation} {minimum:g}")
        return value

    return check


def model_options(func):
    """--model, --weights, --preprocess, --cache-dir: shared by every command."""
    options = [
        click.option("-m", "--model", default=None, metavar="NAME|PATH",
                     help="A registered model (see 'dream layers --help'), or a saved .keras/.h5 model. "
                          "[default: efficientnet-lite0]"),
        click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="A local weights file for a registered model (for machines without internet)."),
        click.option("--preprocess", default=None, metavar="SCHEME",
                     help="Your own model's input scaling: none (0..255), unit (0..1), tf (-1..1), "
                          "torch, caffe, or 'mean=R,G,B;std=R,G,B'. [default: none]"),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None, envvar="DREAMER_CACHE_DIR",
                     help="Where converted models are cached. [default: $XDG_CACHE_HOME/dreamer or ~/.cache/dreamer]"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dream")
def main():
    """dreamer: see what a neural network sees."""


@main.command("run")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(), metavar="INPUT...")
@click.option("-l", "--layer", "layers", multiple=True, metavar="NAME[=WEIGHT]",
              help="A layer to excite; repeat to mix layers, with optional weights. [default: the model's]")
@click.option("-i", "--iterations", type=click.IntRange(min=1), default=DEFAULTS["iterations"], show_default=True,
              help="Gradient-ascent steps per octave.")
@click.option("--octaves", type=click.IntRange(min=1), default=DEFAULTS["octaves"], show_default=True,
              help="Number of scales, the full size included.")
@click.option("--octave-scale", type=float, default=DEFAULTS["octave_scale"], show_default=True,
              callback=finite_float(1.0, exclusive=True), help="Size ratio between octaves (above 1).")
@click.option("-s", "--step-size", type=float, default=DEFAULTS["step_size"], show_default=True,
              callback=finite_float(0.0, exclusive=True),
              help="Mean change of a pixel per step, on the 0-255 scale.")
@click.option("--jitter", type=click.IntRange(min=0), default=DEFAULTS["jitter"], show_default=True,
              help="Largest random shift in pixels before each step.")
@click.option("--tile-size", type=click.IntRange(min=16), default=None,
              help="Compute gradients in tiles of this many pixels. [default: auto: one piece up to "
                   "1 megapixel, 512 above]")
@click.option("--max-size", type=click.IntRange(min=1), default=None,
              help="Downscale the input so its long side is at most this. [default: full resolution]")
@click.option("--loss", type=click.Choice(["l2", "mean"]), default="l2", show_default=True,
              help="l2: mean squared activation (DeepDream); mean: mean activation.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Random seed; the same seed and settings give the same pixels. [default: random, recorded]")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file, or a folder for several inputs. [default: outputs/<input>_<model>_<layer>.png]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file instead of choosing a free name.")
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto", show_default=True,
              help="The network's arithmetic. auto: bfloat16 on CPUs with AVX512-BF16/AMX and on GPUs that "
                   "have it natively, float32 elsewhere. The image and its update stay float32.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@model_options
def run_command(inputs, layers, iterations, octaves, octave_scale, step_size, jitter, tile_size, max_size,
                loss, seed, output, overwrite, precision, quiet, model, weights, preprocess, cache_dir):
    """Dream on INPUT images: make the network's favourite patterns grow in them.

    \b
    Examples:
      dream samples/chelsea.png
      dream --layer block4c_add --iterations 20 photo.jpg -o dreamy.png
      dream --layer block5c_add=1 --layer block3b_add=0.5 photo.jpg
      dream --max-size 1024 --seed 42 *.jpg -o results/
      dream layers            # the layers you can name
    """
    from dreamer import pipeline

    say = (lambda _msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    with _user_errors():
        settings = pipeline.make_config(
            iterations=iterations, octaves=octaves, octave_scale=octave_scale, step_size=step_size,
            jitter=jitter, tile_size=tile_size, seed=seed,
        )
        targets = pipeline.plan_outputs([Path(p) for p in inputs], Path(output) if output else None)
        dreamer = pipeline.make_dreamer(model, list(layers), loss, cache_dir, weights, preprocess, precision)
        targets = pipeline.name_outputs(targets, dreamer.adapter.name, dreamer.objective.name, overwrite, say)
    failures = 0
    with _signals_as_exceptions():
        for target in targets:
            try:
                written = pipeline.dream_one(dreamer, target, settings, max_size, quiet)
            except DreamerError as exc:
                failures += 1
                click.echo(f"error: {exc}", err=True)
                continue
            say(f"wrote {written} (seed {settings.seed})")
    if failures:
        sys.exit(EXIT_FAILED_INPUT)


@main.command("layers")
@model_options
def layers_command(model, weights, preprocess, cache_dir):
    """List the layers of a model you can dream on, in network order.

    \b
    Examples:
      dream layers
      dream layers --model my_classifier.keras
    """
    from dreamer import pipeline

    with _user_errors():
        adapter = pipeline.load_adapter(model, cache_dir, weights, preprocess)
    click.echo(pipeline.layers_table(adapter))


@main.command("classify")
@click.argument("images", nargs=-1, required=True, type=click.Path(), metavar="IMAGE...")
@click.option("-k", "--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many classes to show.")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A text file of class names, one per line, for your own classifier.")
@model_options
def classify_command(images, top, labels, model, weights, preprocess, cache_dir):
    """Show what a classifier sees in IMAGE: its top classes with probabilities.

    This is also how to check that a model and its preprocessing are right.

    \b
    Example:
      dream classify samples/chelsea.png
    """
    from dreamer import pipeline

    with _user_errors():
        adapter = pipeline.load_adapter(model, cache_dir, weights, preprocess, labels)
    failures = 0
    with _signals_as_exceptions():
        for image in images:
            try:
                click.echo(pipeline.classify_text(adapter, Path(image), top))
            except DreamerError as exc:
                failures += 1
                click.echo(f"error: {exc}", err=True)
    if failures:
        sys.exit(EXIT_FAILED_INPUT)


def quiet_tensorflow_import() -> None:
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA probes) silenced.

    Those lines are written straight to file descriptor 2 before TensorFlow's
    logging is set up, so only a redirect of the descriptor hides them; an
    ImportError still propagates with its message.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextmanager
def _user_errors():
    """Turn a DreamerError raised while setting up into a one-line usage error."""
    quiet_tensorflow_import()
    try:
        yield
    except DreamerError as exc:
        raise UserError(str(exc)) from None


@contextmanager
def _signals_as_exceptions():
    """Ctrl-C exits 130 and SIGTERM 143; finished outputs stay, partial ones are removed."""

    def on_term(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        click.echo("\nterminated", err=True)
        sys.exit(EXIT_TERMINATED)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    main()
