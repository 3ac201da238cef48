"""``dream probe``: at which layer does the network stop telling x from T(x)?

A thin shell over ``dreamer.probe``: the settings' options come from
``ProbeSettings`` (``dreamer.probe.settings``); the outputs are named and
checked before any work; progress goes to two bars on stderr (images x
layers, then the layers' classifiers); the table and the answer go to
stdout.
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
@click.option("--overwrite", is_flag=True, help="Replace existing output files instead of choosing free names.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages; the table still prints.")
@model_options
@config_file_options
def probe_command(images, layers, pairs, classes, output, json_path, overwrite, quiet, **options):
    """At which layer does the network stop telling x from T(x)? Per layer: invariance, equivariance, decodability.

    Prints a table and a one-line answer (the deepest layer where T is still
    decodable by a linear head, and where it is lost), and writes a plot and
    a JSON file with every number.

    \b
    Examples:
      dream probe --transform hflip samples/*.png
      dream probe --transform vflip --layer block3b_add,block5c_add photos/
      dream probe --pairs coins/left coins/right
      dream probe --classes cats/ dogs/ --model my_net.keras --preprocess unit
    """
    from dreamer.probe import probe
    from dreamer.probe.measure import plan_inputs
    from dreamer.probe.plot import save_plot
    from dreamer.probe.report import output_paths, table_text, write_json
    from dreamer.probe.transforms import parse_transform

    say = make_say(quiet)
    names = [name.strip() for text in layers for name in text.split(",") if name.strip()] or None
    mode = "pairs" if pairs else "classes" if classes else "transform"
    with user_errors():
        choice = take(ModelChoice, options)
        config = take(ProbeSettings, options)
        parse_transform(config.transform)
        plan_inputs(images, pairs, classes)  # too few images: said before the model loads
        plot_path, json_file = output_paths(str(choice.model or DEFAULT_MODEL_NAME), config.transform, mode, output,
                                            json_path, overwrite)
        adapter = load_adapter(choice, quiet=quiet)
        with signals_as_exceptions(), ProbeBar(quiet) as bar:
            result = probe(images, model=adapter, layers=names, pairs=pairs, classes=classes, settings=config,
                           progress=bar.update)
        save_plot(result, plot_path)
        write_json(result, json_file)
    click.echo(table_text(result))
    say(f"wrote {plot_path} and {json_file}")


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
