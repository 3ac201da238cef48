"""What the commands that dream share: the settings made from the options, the inputs checked before
TensorFlow, the network's file in place, and the one way the CLI builds a ``Dreamer``.

A ``Dreamer`` is built from a recipe's model part (``dreamer.batch.settings``:
model, layers, classes, loss, guide, weights, preprocess, unsafe_load,
precision, input_name) by ``dreamer.batch.settings.dreamer_from_recipe``: the command
itself, the batch's local worker and a Ray actor all go through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import click

from dreamer.cli import preflight
from dreamer.cli.common import DEFAULT_MODEL_NAME, cache_folder, naming, take, weights_from_environment
from dreamer.config import MODEL_SETTINGS, settings
from dreamer.errors import DreamerError


@dataclass(frozen=True)
class BatchFlags:
    """How a run goes: search sub-folders, render everything again, replace files, say nothing."""

    recursive: bool = False
    force: bool = False
    overwrite: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class DreamRequest:
    """What ``dream`` is asked to do, built from its options once and handed down.

    Attributes:
        inputs: the INPUT arguments (files, folders, patterns).
        output: ``-o`` as given (None: ``outputs/``).
        model: ``--model`` (None: chosen by the layers, else the default model).
        chosen: the other model and objective settings (``dreamer.config.MODEL_SETTINGS``
            but the model).
        config_settings: the ``DreamConfig`` fields (the seed None: drawn at run time).
        max_size, cache_dir: ``--max-size``, ``--cache-dir``.
        flags: --recursive, --force, --overwrite, --quiet.
    """

    inputs: tuple[str, ...] = ()
    output: str | None = None
    model: str | None = None
    chosen: dict = field(default_factory=dict)
    config_settings: dict = field(default_factory=dict)
    max_size: int | None = None
    cache_dir: str | None = None
    flags: BatchFlags = BatchFlags()

    @classmethod
    def from_options(cls, inputs, options: dict) -> DreamRequest:
        """The request from the command's options (those it used are taken out of ``options``)."""
        flags = take(BatchFlags, options)
        chosen = {key: options.pop(key) for key in MODEL_SETTINGS if key in options}
        config_settings = {name: options.pop(name) for name in settings() if name in options}
        return cls(tuple(inputs), options.pop("output", None), chosen.pop("model", None), chosen, config_settings,
                   options.pop("max_size", None), options.pop("cache_dir", None), flags)

    @property
    def say(self) -> Callable[[str], None]:
        """Writes a message line to stderr, unless --quiet."""
        from dreamer.cli.common import make_say

        return make_say(self.flags.quiet)


def checked_inputs(paths: list[Path], max_size: int | None, min_side: int | None,
                   say) -> tuple[list[Path], list[tuple[str, str]]]:
    """The inputs whose headers read and that are big enough, and the (input, reason) of each other
    (each reported on stderr at once). A large input dreamed at full size gets one note about ``--max-size``."""
    good, failures, hinted = [], [], False
    for path in paths:
        try:
            width, height = preflight.check_input(path, max_size, min_side)
        except DreamerError as exc:
            failures.append((str(path), naming(path, exc)))
            click.echo(f"Error: {failures[-1][1]}", err=True)
            continue
        good.append(path)
        if max_size is None and width * height > preflight.LARGE_IMAGE_PIXELS and not hinted:
            say(preflight.large_image_hint(path, (width, height)))
            hinted = True
    return good, failures


def prepared_outputs(paths: list[Path], output: str | None, model: str, cache_dir, weights, quiet: bool):
    """The network's file in place (``ensure_network``), and the output folder made
    (``-o`` read against all the inputs given, as the user meant it)."""
    from dreamer.outputs import plan_outputs

    ensure_network(model, cache_dir, weights, quiet)
    return plan_outputs(paths, output)


def ensure_network(model: str, cache_dir, weights, quiet: bool) -> None:
    """GoogLeNet's file fetched or handed over if it is the model, still before TensorFlow loads
    (offline, a few short lines say what is missing and the command that hands it over)."""
    from dreamer.cli.progress import DownloadBar
    from dreamer.models import find_spec
    from dreamer.models.inception5h import MODEL_NAME

    spec = find_spec(model)
    if spec is not None and spec.name == MODEL_NAME:
        with DownloadBar(quiet) as bar:
            argv = click.get_current_context().meta.get("dreamer.argv", [])
            preflight.ensure_inception5h(cache_folder(cache_dir), weights or weights_from_environment(model),
                                         bar.update, argv)


def make_config(seed: int | None, **config_settings):
    """A DreamConfig from the options; a missing seed is drawn now (and recorded)."""
    from dreamer.config import DreamConfig
    from dreamer.settings import new_seed

    return DreamConfig(seed=new_seed() if seed is None else seed, **config_settings)


def make_dreamer(chosen: Mapping[str, Any], cache_dir=None, *, quiet: bool = False,
                 say: Callable[[str], None] | None = None, adapter=None):
    """Load the model once, prepare the objective (checks every layer, channel
    and class) and build the gradient (so a model that can't run in the asked
    precision is refused before any work).

    Args:
        chosen: the model and objective as the user chose them: any of a
            recipe's model settings (``dreamer.config.MODEL_SETTINGS``); a missing
            key takes its default.
        cache_dir: ``--cache-dir`` (None: the user's cache folder).
        adapter: an already loaded model to use instead of ``chosen["model"]``
            (the zoom schedule's later objectives share the first's model).

    Without a model, layers that the default model lacks but exactly one
    registered model has choose that model (``say`` reports it).
    """
    from dreamer.batch.settings import dreamer_from_recipe
    from dreamer.cli.progress import DownloadBar

    model = chosen.get("model")
    if model is None and adapter is None:
        model = preflight.choose_model(None, list(chosen.get("layers") or ()), say or (lambda _msg: None))
    model = model or DEFAULT_MODEL_NAME
    recipe = {**chosen, "model": model, "weights": chosen.get("weights") or weights_from_environment(model)}
    with DownloadBar(quiet) as bar:
        return dreamer_from_recipe(recipe, cache_folder(cache_dir), bar.update, adapter)
