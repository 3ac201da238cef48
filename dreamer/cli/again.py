"""``dream again RESULT.png``: render a result again from the settings and seed it carries."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource

from dreamer.cli.common import EXIT_FAILED_INPUT, make_say, signals_as_exceptions, usage_errors, user_errors
from dreamer.cli.options import config_options, setting_option
from dreamer.errors import DreamerError
from dreamer.settings import MAX_SIZE_SETTING

#: The options of ``again`` that change the recipe when given on the command line.
OVERRIDES = ("layers", "max_size", "precision")


@click.command("again")
@click.argument("result", type=click.Path(exists=True, dir_okay=False), metavar="RESULT.png")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False), default=None, metavar="IMG",
              help="The input to render. [default: the one the result was made from, if it is still there]")
@click.option("-l", "--layer", "layers", multiple=True, metavar="OBJECTIVE", help="Another objective.")
@config_options
@setting_option("max_size", MAX_SIZE_SETTING, None)
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default=None,
              help="Another arithmetic. [default: the result's]")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Output file. [default: RESULT_again.png beside the result]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file instead of choosing a free name.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no messages, only errors.")
def again_command(result, input_path, output, overwrite, quiet, **options):
    """Render RESULT again from the settings and seed it carries; options you give change them.

    With nothing changed, on the same machine and precision, the pixels are
    identical to RESULT's.

    \b
    Examples:
      dream again outputs/cat_efficientnet-lite0_block5c_add.png
      dream again result.png --iterations 20 -o more.png
      dream again result.png --input other_photo.jpg
    """
    ctx = click.get_current_context()
    given = {name: value for name, value in options.items()
             if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    say = make_say(quiet)
    with usage_errors():  # the result's settings, the input and the output: answered before TensorFlow loads
        recipe, source, named = plan_again(Path(result), input_path, given, output, overwrite, say)
    with user_errors():
        from dreamer.batch.worker import load_dreamer
        from dreamer.cli.progress import DownloadBar

        with DownloadBar(quiet) as bar:
            dreamer = load_dreamer(recipe, download_progress=bar.update)
    with signals_as_exceptions():
        try:
            render_again(dreamer, recipe, source, named.output, quiet)
        except DreamerError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED_INPUT)
    renamed = f"; {named.renamed}" if named.renamed else ""
    say(f"wrote {named.output} (seed {recipe['seed']}{renamed})")


def plan_again(result: Path, input_path: str | None, given: dict, output: str | None, overwrite: bool, say):
    """The recipe (with the changes given), the input, and the output path; before any work.

    Raises:
        DreamerError: the result carries no settings, or its input can't be found.

    Returns:
        (the recipe, the input, the ``dreamer.outputs.Target`` to write).
    """
    from dreamer.batch.settings import recipe_from_metadata, with_overrides
    from dreamer.outputs import Target, name_outputs

    metadata = result_metadata(result)
    recipe = with_overrides(recipe_from_metadata(metadata), given)
    source = find_input(result, metadata, input_path, say)
    wanted = Path(output) if output else result.with_name(f"{result.stem}_again.png")
    named = name_outputs([Target(source, output=wanted)], "", "", overwrite)[0]
    return recipe, source, named


def result_metadata(result: Path) -> dict:
    """The settings a result carries (``preflight.check_result_file``; no TensorFlow needed).

    Raises:
        DreamerError: it carries none (not a PNG written by dream, or not an image).
    """
    from dreamer.cli.preflight import check_result_file

    return check_result_file(result)


def find_input(result: Path, metadata: dict, input_path: str | None, say) -> Path:
    """``--input``, else the input the result was made from; a note when it changed since."""
    from dreamer.fileio import file_digest

    if input_path is not None:
        return Path(input_path)
    candidates = [metadata.get("input")]
    candidates += [str(result.parent / metadata["input"])] if metadata.get("input") else []
    for candidate in filter(None, candidates):
        path = Path(candidate)
        if path.is_file():
            if metadata.get("input_sha256") and file_digest(path) != metadata["input_sha256"]:
                say(f"note: {path} changed since {result} was made; the result will differ")
            return path
    named = metadata.get("input") or "its input"
    raise DreamerError(f"{result}: {named} is not there; give the input with --input IMG")


def render_again(dreamer, recipe: dict, source: Path, target: Path, quiet: bool) -> None:
    """Render ``source`` with ``recipe`` and write the result to ``target`` (its format by extension)."""
    import io

    from PIL import Image

    from dreamer.batch.worker import render_job
    from dreamer.cli.progress import StepBar
    from dreamer.executors import Job
    from dreamer.images import load_image, save_image

    mask = load_image(recipe["mask"]) if recipe.get("mask") else None
    job = Job(str(target), str(source.resolve()), source.read_bytes(), recipe)
    with StepBar(click.format_filename(str(source)), quiet) as bar:
        outcome = render_job(dreamer, job, mask, "local", bar.update)
    with Image.open(io.BytesIO(outcome.data)) as image:
        image.load()
        save_image(image, target, outcome.extra["metadata"])
