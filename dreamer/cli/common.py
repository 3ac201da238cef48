"""What every command shares: exit codes, the model options, one-line errors, signals, model loading.

Only the CLI imports click. A ``DreamerError`` raised while setting up is a
one-line usage error (exit 2); Ctrl-C exits 130 and SIGTERM 143 with
finished outputs kept.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

import click

from dreamer.errors import DreamerError

EXIT_FAILED_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
#: The default model, repeated here so that ``--help`` needs no model import (a test keeps it in step).
DEFAULT_MODEL_NAME = "efficientnet-lite0"


class UserError(click.ClickException):
    """A mistake in the command line or its settings: one line, exit code 2."""

    exit_code = EXIT_USAGE


class Terminated(BaseException):
    """Raised by the SIGTERM handler so that clean-up runs as for Ctrl-C."""


def model_options(func):
    """--model, --weights, --preprocess, --unsafe-load, --cache-dir: shared by every command."""
    options = [
        click.option("-m", "--model", default=None, metavar="NAME|PATH",
                     help="A registered model (efficientnet-lite0, inception5h, inceptionv3, vgg16, vgg19, "
                          "resnet50, mobilenetv2, efficientnetb0, densenet121, xception), or your own "
                          ".keras/.h5 file, frozen GraphDef .pb or SavedModel folder. [default: "
                          "efficientnet-lite0, or the model that has the --layer named]"),
        click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="A local weights file for a registered model, for machines without internet "
                          "(inception5h: inception5h.zip or tensorflow_inception_graph.pb, also "
                          "$DREAMER_INCEPTION5H; Keras models: their .h5 file)."),
        click.option("--preprocess", default=None, metavar="SCHEME",
                     help="Your own model's input scaling: none (0..255), unit (0..1), tf (-1..1), "
                          "torch, caffe, or 'mean=R,G,B;std=R,G,B'. [default: none]"),
        click.option("--unsafe-load", is_flag=True,
                     help="Let your .keras/.h5 model run code stored in it (Lambda layers). Only for files "
                          "you trust."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None, envvar="DREAMER_CACHE_DIR",
                     help="Where converted models are cached. [default: $XDG_CACHE_HOME/dreamer or ~/.cache/dreamer]"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def input_name_option(func):
    """--input-name: the input op of the user's frozen GraphDef (for the commands that load a model)."""
    return click.option("--input-name", default=None, metavar="OP",
                        help="The image input of your frozen GraphDef (.pb). [default: its one float "
                             "placeholder]")(func)


def make_say(quiet: bool) -> Callable[[str], None]:
    """A function that writes a message line to stderr, or nothing when quiet."""
    return (lambda _msg: None) if quiet else (lambda msg: click.echo(msg, err=True))


def naming(path: Path, exc: Exception) -> str:
    """An error message that starts with the input it is about."""
    text = str(exc)
    return text if text.startswith(str(path)) else f"{click.format_filename(str(path))}: {text}"


def cache_folder(cache_dir: str | None) -> Path:
    """``--cache-dir``, or the user's default cache folder."""
    from dreamer.fileio import default_cache_dir

    return Path(cache_dir) if cache_dir else default_cache_dir()


def weights_from_environment(model) -> str | None:
    """A local copy of inception5h named by ``DREAMER_INCEPTION5H`` (the CLI's offline hand-over)."""
    from dreamer.models import find_spec
    from dreamer.models.inception5h import ENV_VAR, MODEL_NAME

    spec = find_spec(str(model)) if isinstance(model, (str, Path)) else None
    if spec is not None and spec.name == MODEL_NAME and os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    return None


@dataclass(frozen=True)
class ModelChoice:
    """The model options of a command: --model, --weights, --preprocess, --unsafe-load, --cache-dir, --input-name."""

    model: str | None = None
    weights: str | None = None
    preprocess: str | None = None
    unsafe_load: bool = False
    cache_dir: str | None = None
    input_name: str | None = None


def take(cls, options: dict):
    """An instance of the dataclass ``cls`` from its fields in ``options`` (a command's keyword
    arguments), which are removed from ``options``: how a command turns its options into request objects."""
    return cls(**{f.name: options.pop(f.name) for f in fields(cls) if f.name in options})


def load_adapter(choice: ModelChoice, labels_file: str | None = None, *, quiet: bool = False,
                 classifier: bool = False):
    """The adapter alone (for ``layers``, ``classify``, ``atlas`` and ``probe``), with a download bar.

    With ``labels_file``, the adapter gets those class names; with
    ``classifier``, check that it has class names and load its
    classification head now (a Keras application downloads it here).
    """
    from dreamer.cli.progress import DownloadBar
    from dreamer.models import load_model
    from dreamer.models.labels import read_labels

    model = choice.model or DEFAULT_MODEL_NAME
    weights = choice.weights or weights_from_environment(model)
    with DownloadBar(quiet) as bar:
        adapter = load_model(model, cache_folder(choice.cache_dir), Path(weights) if weights else None,
                             choice.preprocess, unsafe=choice.unsafe_load, progress=bar.update,
                             input_name=choice.input_name)
        if labels_file is not None:
            adapter = replace(adapter, labels=read_labels(Path(labels_file)))
        if classifier:
            if not adapter.labels:
                raise DreamerError(f"model {adapter.name!r} has no class names; pass --labels FILE")
            adapter.classifier_model()
    return adapter


def quiet_tensorflow_import() -> None:
    """Import TensorFlow with its C++ start-up chatter hidden (``dreamer.api.quiet_tensorflow_import``).

    ``dreamer.api`` is imported only here, when TensorFlow is wanted anyway,
    so ``dream --help`` stays fast.
    """
    from dreamer.startup import quiet_tensorflow_import as quiet

    quiet()


@contextmanager
def usage_errors():
    """Turn a DreamerError into a usage error (exit 2), without loading TensorFlow: for the checks
    that answer before it (``dreamer.cli.preflight``)."""
    try:
        yield
    except DreamerError as exc:
        raise UserError(str(exc)) from None


@contextmanager
def user_errors():
    """Load TensorFlow (quietly), then turn a DreamerError raised while setting up into a usage error."""
    quiet_tensorflow_import()
    with usage_errors():
        yield


@contextmanager
def interrupt_exits():
    """A Ctrl-C (KeyboardInterrupt) that reaches this block exits 130 with one line, whenever it comes."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


@contextmanager
def signals_as_exceptions():
    """Ctrl-C exits 130 and SIGTERM 143; finished outputs stay, partial ones are removed."""

    def on_term(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        click.echo(("\n" if sys.stderr.isatty() else "") + "interrupted", err=True)  # (ends a bar's line)
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        click.echo(("\n" if sys.stderr.isatty() else "") + "terminated", err=True)
        sys.exit(EXIT_TERMINATED)
    finally:
        signal.signal(signal.SIGTERM, previous)
