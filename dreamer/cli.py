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
DEFAULTS = {"iterations": 10, "octaves": 4, "octave_scale": 1.4, "step_size": 1.5, "jitter": 32,
            "laplacian_levels": 0, "tv": 0.0}
#: The atlas' defaults, repeated from dreamer.atlas for the same reason.
ATLAS_DEFAULTS = {"size": 128, "iterations": 24, "octaves": 3, "laplacian_levels": 4}


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
    """--model, --weights, --preprocess, --unsafe-load, --cache-dir: shared by every command."""
    options = [
        click.option("-m", "--model", default=None, metavar="NAME|PATH",
                     help="A registered model (efficientnet-lite0, inception5h, inceptionv3, vgg16, vgg19, "
                          "resnet50, mobilenetv2, efficientnetb0, densenet121, xception), or your own "
                          ".keras/.h5 file or SavedModel folder. [default: efficientnet-lite0, or the model "
                          "that has the --layer named]"),
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


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dream")
def main():
    """dreamer: see what a neural network sees."""


@main.command("run")
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
@click.option("--loss", type=click.Choice(["l2", "mean"]), default=None,
              help="l2: mean squared activation (DeepDream); mean: mean activation. Applies to every layer, "
                   "channel and neuron term without its own [l2]/[mean]; a class is always its logit. "
                   "[default: l2 for whole layers, mean for channels and neurons]")
@click.option("--laplacian", "laplacian_levels", type=click.IntRange(0, 12), default=DEFAULTS["laplacian_levels"],
              show_default=True,
              help="Smooth the gradient: normalise each level of a Laplacian pyramid of this many levels "
                   "(4 is the TensorFlow notebook's); 0 is off. Softer, larger forms, less pixel grain.")
@click.option("--tv", type=float, default=DEFAULTS["tv"], show_default=True, callback=finite_float(0.0),
              help="Total-variation penalty on what the dream adds (0.1-0.5 smooths grain); 0 is off.")
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
def run_command(inputs, layers, classes, guide, mask, iterations, octaves, octave_scale, step_size, jitter,
                tile_size, max_size, loss, laplacian_levels, tv, seed, output, overwrite, precision, quiet, model,
                weights, preprocess, unsafe_load, cache_dir):
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
      dream --layer mixed4c photo.jpg     # GoogLeNet, as in 2015
      dream --model my_net.keras --preprocess unit photo.jpg
      dream layers            # the layers you can name
      dream atlas --layer block5c_add --channels 0-15
    """
    from dreamer import pipeline

    say = (lambda _msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    with _user_errors():
        settings = pipeline.make_config(
            iterations=iterations, octaves=octaves, octave_scale=octave_scale, step_size=step_size,
            jitter=jitter, tile_size=tile_size, seed=seed, laplacian_levels=laplacian_levels, tv=tv,
        )
        targets = pipeline.plan_outputs([Path(p) for p in inputs], output)
        mask_image = pipeline.load_mask(mask)
        dreamer = pipeline.make_dreamer(model, list(layers), loss, cache_dir, weights, preprocess, classes, guide,
                                        unsafe_load=unsafe_load, quiet=quiet, say=say, precision=precision)
        targets = pipeline.name_outputs(targets, dreamer.adapter.name, dreamer.objective.name, overwrite, say)
    failures = 0
    with _signals_as_exceptions():
        for target in targets:
            try:
                written = pipeline.dream_one(dreamer, target, settings, max_size, quiet, mask_image)
            except DreamerError as exc:
                failures += 1
                click.echo(f"error: {_naming(target.input, exc)}", err=True)
                continue
            say(f"wrote {written} (seed {settings.seed})")
    if failures:
        sys.exit(EXIT_FAILED_INPUT)


@main.command("layers")
@model_options
def layers_command(model, weights, preprocess, unsafe_load, cache_dir):
    """List the layers of a model you can dream on, in network order.

    Registered models are listed from their architecture alone (nothing is
    downloaded), with where their weights come from.

    \b
    Examples:
      dream layers
      dream layers --model inception5h
      dream layers --model my_classifier.keras
    """
    from dreamer import pipeline

    with _user_errors():
        text = pipeline.layers_text(model, cache_dir, weights, preprocess, unsafe_load=unsafe_load)
    click.echo(text)


@main.command("models")
def models_command():
    """List the registered models and where their weights come from.

    \b
    Example:
      dream models
    """
    from dreamer import pipeline

    click.echo(pipeline.models_text())


@main.command("atlas")
@click.option("-l", "--layer", default=None, metavar="NAME", help="The layer to map. [default: the model's]")
@click.option("--channels", default=None, metavar="LIST",
              help="Channels to render: '0-63', '3,7,12-15' or 'all'. [default: the first 16]")
@click.option("--size", type=click.IntRange(min=32), default=ATLAS_DEFAULTS["size"], show_default=True,
              help="Each tile's side in pixels.")
@click.option("-i", "--iterations", type=click.IntRange(min=1), default=ATLAS_DEFAULTS["iterations"],
              show_default=True, help="Gradient-ascent steps per octave.")
@click.option("--octaves", type=click.IntRange(min=1), default=ATLAS_DEFAULTS["octaves"], show_default=True,
              help="Number of scales, the full tile size included.")
@click.option("--laplacian", "laplacian_levels", type=click.IntRange(0, 12),
              default=ATLAS_DEFAULTS["laplacian_levels"], show_default=True,
              help="Laplacian-pyramid gradient normalisation levels; 0 is off.")
@click.option("--columns", type=click.IntRange(min=1), default=None,
              help="Tiles per row. [default: about square]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Random seed of the start noise and the jitter (channel c uses seed + c).")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Output file. [default: outputs/atlas_<model>_<layer>_<channels>.png]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file instead of choosing a free name.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
@model_options
def atlas_command(layer, channels, size, iterations, octaves, laplacian_levels, columns, seed, output, overwrite,
                  quiet, model, weights, preprocess, unsafe_load, cache_dir):
    """Map a layer: each channel's favourite pattern, on one labelled contact sheet.

    Every channel is rendered from grey noise by gradient ascent on its mean
    activation, with jitter and small random rotations and scalings at each
    step, over a few octaves; its number is written under its tile.

    \b
    Examples:
      dream atlas --layer block5c_add
      dream atlas --layer block4c_add --channels 0-63 -o block4c.png
      dream atlas --model my_classifier.keras --layer conv3 --channels all
    """
    from dataclasses import replace

    from dreamer import pipeline
    from dreamer.atlas import ATLAS_CONFIG

    say = (lambda _msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    with _user_errors():
        config = replace(ATLAS_CONFIG, iterations=iterations, octaves=octaves, laplacian_levels=laplacian_levels,
                         seed=seed)
        adapter = pipeline.load_adapter(model, cache_dir, weights, preprocess, unsafe_load=unsafe_load, quiet=quiet)
        layer = layer or adapter.default_layer
        chosen = pipeline.atlas_channels(adapter, layer, channels)
        target = pipeline.plan_outputs([Path("atlas")], output)
        label = f"{layer}_{chosen[0]}-{chosen[-1]}" if chosen == tuple(range(chosen[0], chosen[-1] + 1)) else layer
        target = pipeline.name_outputs(target, adapter.name, label, overwrite, say)[0]
    with _signals_as_exceptions():
        try:
            written = pipeline.render_atlas(adapter, layer, chosen, config, size, columns, target.output, quiet)
        except DreamerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
    say(f"wrote {written} ({len(chosen)} channels of {layer})")


@main.command("classify")
@click.argument("images", nargs=-1, required=True, type=click.Path(), metavar="IMAGE...")
@click.option("-k", "--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many classes to show.")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A text file of class names, one per line, for your own classifier.")
@model_options
def classify_command(images, top, labels, model, weights, preprocess, unsafe_load, cache_dir):
    """Show what a classifier sees in IMAGE: its top classes with probabilities.

    This is also how to check that a model and its preprocessing are right.

    \b
    Examples:
      dream classify samples/chelsea.png
      dream classify --model my_classifier.keras --labels classes.txt photo.jpg
    """
    from dreamer import pipeline

    with _user_errors():
        adapter = pipeline.load_adapter(model, cache_dir, weights, preprocess, labels, unsafe_load=unsafe_load,
                                        classifier=True)
    failures = 0
    with _signals_as_exceptions():
        for image in images:
            try:
                click.echo(pipeline.classify_text(adapter, Path(image), top))
            except DreamerError as exc:
                failures += 1
                click.echo(f"error: {_naming(Path(image), exc)}", err=True)
    if failures:
        sys.exit(EXIT_FAILED_INPUT)


def _probe_options(func):
    """The probe's settings as options, derived from ``dreamer.probe.settings.ProbeSettings``."""
    from dreamer.probe.settings import settings_help

    for name, meta in reversed(list(settings_help().items())):
        low, high = meta["minimum"], meta["maximum"]
        if meta["kind"] is int:
            kind = click.IntRange(low, high)
        elif meta["kind"] is float:
            kind = click.FloatRange(low, high)
        else:
            kind = str
        flags = (meta["flag"], "-t") if name == "transform" else (meta["flag"],)
        func = click.option(*flags, name, type=kind, default=meta["default"], show_default=True,
                            help=meta["help"])(func)
    return func


@main.command("probe")
@click.argument("images", nargs=-1, type=click.Path(), metavar="[IMAGE|FOLDER]...")
@click.option("-l", "--layer", "layers", multiple=True, metavar="NAME[,NAME...]",
              help="Layers to probe (repeatable, or comma-separated). [default: --max-layers of them spread over "
                   "the network, and its class output]")
@click.option("--pairs", nargs=2, type=click.Path(exists=True, file_okay=False), default=None,
              metavar="LEFT_DIR RIGHT_DIR",
              help="Two folders of corresponding images (same names, or the same count in sorted order): each "
                   "right image is the partner of its left one, instead of T(x).")
@click.option("--classes", nargs=2, type=click.Path(exists=True, file_okay=False), default=None,
              metavar="DIR_A DIR_B", help="Two folders of images of two classes: how well each layer tells them apart.")
@_probe_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The plot: .png, .svg or .pdf. [default: outputs/probe_<model>_<transform>.png]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Every number and setting as JSON. [default: the plot's path with .json]")
@click.option("--overwrite", is_flag=True, help="Replace existing output files instead of choosing free names.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages; the table still prints.")
@model_options
def probe_command(images, layers, pairs, classes, output, json_path, overwrite, quiet, model, weights, preprocess,
                  unsafe_load, cache_dir, **settings):
    """At which layer does the network stop telling x from T(x)? Per layer: invariance, equivariance, decodability.

    Prints a table and a one-line answer (the deepest layer where T is still
    decodable by a linear head, and the layer after which it is lost), and
    writes a plot and a JSON file with every number.

    \b
    Examples:
      dream probe --transform hflip samples/*.png
      dream probe --transform vflip --layer block3b_add,block5c_add photos/
      dream probe --pairs coins/left coins/right
      dream probe --classes cats/ dogs/ --model my_net.keras --preprocess unit
    """
    from dreamer.probe import ProbeSettings, probe
    from dreamer.probe.plot import save_plot
    from dreamer.probe.report import output_paths, table_text, write_json

    model = model or "efficientnet-lite0"
    names = [name.strip() for text in layers for name in text.split(",") if name.strip()] or None
    with _user_errors():
        config = ProbeSettings(**settings)
        mode = "pairs" if pairs else "classes" if classes else "transform"
        plot_path, json_file = output_paths(str(model), config.transform, mode, output, json_path, overwrite)
        with _signals_as_exceptions(), _ProbeBar(quiet) as bar:
            result = probe(images, model=model, layers=names, pairs=pairs, classes=classes, settings=config,
                           cache_dir=cache_dir, weights=weights, preprocess=preprocess, unsafe_load=unsafe_load,
                           progress=bar.update)
        save_plot(result, plot_path)
        write_json(result, json_file)
    click.echo(table_text(result))
    if not quiet:
        click.echo(f"wrote {plot_path} and {json_file}", err=True)


class _ProbeBar:
    """Progress on stderr: one bar over images x layers, then one over the layers' classifiers."""

    LABELS = {"features": "probe: activations (images x layers)", "classifier": "probe: classifiers (layers)"}

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._bar = None
        self._stage = None
        self._done = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close(*exc)
        return False

    def update(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if stage != self._stage:
            self._close(None, None, None)
            self._bar = click.progressbar(length=total, label=self.LABELS.get(stage, stage), file=sys.stderr)
            self._bar.__enter__()
            self._stage, self._done = stage, 0
        self._bar.update(done - self._done)
        self._done = done

    def _close(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None


def _naming(path: Path, exc: Exception) -> str:
    """An error message that starts with the input it is about."""
    text = str(exc)
    return text if text.startswith(str(path)) else f"{click.format_filename(str(path))}: {text}"


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
