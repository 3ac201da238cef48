"""``dream probe``: at which layer does the network stop telling x from T(x)?

A thin shell over ``dreamer.probe``: the settings' options come from
``ProbeSettings`` (``dreamer.probe.settings``); the transform, the number of
images, ``--groups`` and the output names are checked before TensorFlow is
imported (a mistake costs a fraction of a second); progress goes to two
bars on stderr (images x layers, then the layers' classifiers); the table,
the answer and what ``--export`` wrote go to stdout.
"""

from __future__ import annotations

import click

from dreamer.cli.common import (
    DEFAULT_MODEL_NAME,
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
from dreamer.cli.options import options_from
from dreamer.cli.progress import LazyBar
from dreamer.probe.settings import ProbeSettings


@click.command("probe", cls=ConfiguredCommand, table="probe")
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
@options_from(ProbeSettings)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The plot: .png, .svg or .pdf. [default: outputs/probe_<model>_<transform>.png]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Every number and setting as JSON. [default: the plot's path with .json]")
@click.option("--groups", "groups", default=None, metavar="FILE|name:REGEX",
              help="Images that must share a cross-validation fold (crops of one photo, shots of one coin): a file "
                   "of 'file-name group' lines, or name:REGEX (the group is the first capture group, or the match, "
                   "in each file name). [default: each image its own group]")
@click.option("--export", "export_path", type=click.Path(dir_okay=False), default=None, metavar="HEAD.keras",
              help="Save the network cut at the answer's layer plus the head that decodes there, trained on all "
                   "the images, as a Keras model (loads with keras.models.load_model; output above 0.5: the "
                   "second kind of input).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files instead of choosing free names.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages; the table still prints.")
@model_options
@config_file_options
def probe_command(images, layers, pairs, classes, **options):
    """At which layer does the network stop telling x from T(x)? Per layer: invariance, equivariance, decodability.

    Prints a table and a one-line answer (the deepest layer where T is still
    decodable, the head that decodes it there with its 95% interval, and
    where it is lost or the data cannot decide), and writes a plot and a
    JSON file with every number; --export saves that network and head.

    \b
    Examples:
      dream probe --transform hflip samples/coins_right/
      dream probe --augment 4 --export head.keras samples/coins_right/
      dream probe --transform vflip --layer block3b_add,block5c_add photos/
      dream probe --pairs coins/left coins/right
      dream probe --classes cats/ dogs/ --model my_net.keras --preprocess unit
    """
    from dreamer.probe.report import output_paths, table_text

    output, json_path, groups, export_path, overwrite, quiet = (
        options.pop(k) for k in ("output", "json_path", "groups", "export_path", "overwrite", "quiet"))
    say = make_say(quiet)
    names = [name.strip() for text in layers for name in text.split(",") if name.strip()] or None
    mode = "pairs" if pairs else "classes" if classes else "transform"
    with usage_errors():  # everything that needs no model is answered before TensorFlow loads
        choice = take(ModelChoice, options)
        config = take(ProbeSettings, options)
        _checked_before_loading(config, (images, pairs, classes), groups, export_path)
        plot_path, json_file = output_paths(str(choice.model or DEFAULT_MODEL_NAME), config.transform, mode, output,
                                            json_path, overwrite)
        export_file = _export_path(export_path, overwrite)
    with user_errors():
        from dreamer.probe import probe

        adapter = load_adapter(choice, quiet=quiet)
        with signals_as_exceptions(), ProbeBar(quiet) as bar:
            result = probe(images, model=adapter, layers=names, pairs=pairs, classes=classes, settings=config,
                           groups=groups, export=export_file, progress=bar.update)
        _save(result, plot_path, json_file)
    click.echo(table_text(result))
    say(f"wrote {plot_path} and {json_file}")
    _say_export(result)


def _checked_before_loading(config, inputs: tuple, groups, export_path) -> None:
    """The transform, the inputs' count, the groups and the export's name, checked without TensorFlow."""
    from dreamer.probe.inputs import group_ids, plan_inputs
    from dreamer.probe.transforms import parse_transform

    parse_transform(config.transform)
    mode, first, second = plan_inputs(*inputs)  # too few images: said before the model loads
    group_ids(list(first) + (list(second) if mode == "classes" else []), groups)
    if export_path is not None and not str(export_path).endswith(".keras"):
        from dreamer.errors import DreamerError

        raise DreamerError(f"--export {export_path}: the file name must end in .keras")


def _export_path(export_path, overwrite: bool):
    """Where ``--export`` writes: its folder made, a free name unless ``overwrite``."""
    from pathlib import Path

    from dreamer.outputs import ensure_folder, free_name

    if export_path is None:
        return None
    path = Path(export_path)
    ensure_folder(path.parent)
    return path if overwrite else free_name(path)


def _save(result, plot_path, json_file) -> None:
    from dreamer.probe.plot import save_plot
    from dreamer.probe.report import write_json

    save_plot(result, plot_path)
    write_json(result, json_file)


def _say_export(result) -> None:
    exported = result.export
    if exported is None:
        return
    if exported.get("path") is None:
        raise click.ClickException(f"not exported: {exported['note']}")
    low, high = exported["interval"]
    click.echo(f"exported {exported['path']}: the network to `{exported['layer']}` and its {exported['head']} head, "
        f"cross-validated accuracy {exported['accuracy']:.0%} (95% interval {low:.0%}-{high:.0%}); load it with "
        f"keras.models.load_model")


class ProbeBar(LazyBar):
    """Progress on stderr, fed ``update(stage, done, total)``: a bar per stage, each opened at its first update."""

    LABELS = {"features": "activations (images x layers)", "classifier": "classifiers (layers)"}

    def __init__(self, quiet: bool):
        super().__init__(quiet)
        self._stage = None
        self._done = 0

    def update(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if stage != self._stage:
            self.__exit__(None, None, None)
            self._bar, self._stage, self._done = None, stage, 0
        self.advance(done - self._done, length=total, label=self.LABELS.get(stage, stage))
        self._done = done
