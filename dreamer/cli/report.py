"""``dream report``: a static site (file://, no server) of a network seen through a folder of images.

A thin shell over ``dreamer.report.build_report``: the folder, the layers
and the model are checked before TensorFlow loads (``dreamer.cli.examples``'
``preflight``); progress goes to a bar per stage on stderr.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from dreamer.cli.common import (
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
from dreamer.cli.examples import preflight
from dreamer.cli.progress import LazyBar
from dreamer.report.build import ReportRequest

_DEFAULTS = ReportRequest()


@click.command("report", cls=ConfiguredCommand, table="report")
@click.option("--images", required=True, type=click.Path(), metavar="FOLDER", help="The folder of images.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), metavar="FOLDER",
              help="The site's folder (made if missing; rerun on it to bring it up to date).")
@click.option("-l", "--layer", "layers", multiple=True, metavar="NAME",
              help=f"A layer to show (repeatable); a rerun keeps the layers the site shows and adds these. "
                   f"[default on a new site: {_DEFAULTS.default_layers} spread over the network]")
@click.option("--per-layer", type=click.IntRange(1, 512), default=_DEFAULTS.per_layer, show_default=True,
              help="Channels shown per layer: the most selective ones.")
@click.option("-k", "--top", "k", type=click.IntRange(1, 50), default=_DEFAULTS.k, show_default=True,
              help="Top patches shown per channel.")
@click.option("--size", type=click.IntRange(16, 4096), default=_DEFAULTS.size, show_default=True,
              help="The square side the images are run at (their centre square, resized).")
@click.option("--batch", type=click.IntRange(1, 1024), default=_DEFAULTS.batch, show_default=True,
              help="Images per forward pass.")
@click.option("--render-steps", type=click.IntRange(1, 10_000), default=_DEFAULTS.render_steps, show_default=True,
              help="Adam steps of each channel's feature visualisation (Fourier parameterisation).")
@click.option("--render-size", type=click.IntRange(32, 2048), default=_DEFAULTS.render_size, show_default=True,
              help="A feature visualisation's side in pixels.")
@click.option("--probe", default="", metavar="TRANSFORM",
              help="Also probe the layers with a transform (hflip, vflip, rot90, gray, shift:N, scale:F) and show "
                   "its invariance, equivariance and decodability in the index.")
@click.option("--attribution", default=",".join(_DEFAULTS.attribution), show_default=True, metavar="METHODS",
              help="dream explain's methods whose maps each image's page shows (comma-separated), or 'none'. "
                   "Shown when dream explain is installed with dreamer; left out otherwise.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@model_options
@config_file_options
def report_command(images, output, layers, **options):
    """Write a static site about a network and a folder of images; open its index.html in a browser.

    The index lists the layers; each layer's page shows its most selective
    channels with their feature visualisation, the image patches that excite
    them most and a histogram of their activation over the images; each
    image's page shows its top-5 classes. Everything is cached: a rerun
    with more images or layers does only what is new.

    \b
    Examples:
      dream report --images photos/ -o site/
      dream report --images photos/ -o site/ -l block3b_add -l block5c_add --per-layer 16
      dream report --images photos/ -o site/ --probe hflip
    """
    per_layer, k, size, batch, render_steps, render_size, probe, attribution, quiet = (options.pop(name) for name in (
        "per_layer", "k", "size", "batch", "render_steps", "render_size", "probe", "attribution", "quiet"))
    say = make_say(quiet)
    model = take(ModelChoice, options)
    with usage_errors():
        model = replace(model, model=preflight(images, model.model, layers, _NoChannels()))
        if probe:
            from dreamer.probe.transforms import parse_transform

            parse_transform(probe)
        methods = attribution_methods(attribution)
    request = ReportRequest(tuple(layers), per_layer, k, size, batch, render_steps, render_size, probe,
                            attribution=methods)
    with user_errors():
        adapter = load_adapter(model, quiet=quiet)
        with signals_as_exceptions(), StageBar(quiet) as bar:
            done = run_report(adapter, images, output, request, (model.cache_dir, bar.update))
    say(f"wrote {Path(output) / 'index.html'} ({done.images} images, {done.computed} run now; {len(done.layers)} "
        f"layers, {done.rendered} renders made; {done.seconds:.1f} s)")


def attribution_methods(text: str) -> tuple[str, ...]:
    """``--attribution`` text -> method names, checked by ``dream explain`` when it is installed.

    Raises:
        DreamerError: a method ``dream explain`` does not know.
    """
    from dreamer.report.build import explain_available

    if text.strip().lower() in ("", "none"):
        return ()
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if explain_available():
        from dreamer.attribution import parse_methods

        return tuple(parse_methods(list(names)))
    return names


class _NoChannels:
    """The channel choice of a report (the most selective per layer): no listed channels to check early."""

    channels = ()


def run_report(adapter, images: str, output: str, request: ReportRequest, where: tuple):
    """Build the site with the network's activation cache; ``where`` is (--cache-dir, progress)."""
    from dreamer.cli.common import cache_folder
    from dreamer.dataset.examples import store_for
    from dreamer.report import build_report

    cache_dir, progress = where
    store = store_for(adapter, cache_folder(cache_dir) / "activations", request.size)
    return build_report(adapter, Path(images), Path(output), request, store, progress)


class StageBar(LazyBar):
    """A bar per stage on stderr, fed ``update(stage, done, total)``."""

    def __init__(self, quiet: bool):
        super().__init__(quiet)
        self._stage, self._done = None, 0

    def update(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if stage != self._stage:
            self.__exit__(None, None, None)
            self._bar, self._stage, self._done = None, stage, 0
        self.advance(done - self._done, length=total, label=stage, show_pos=True)
        self._done = done
