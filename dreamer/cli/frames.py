"""What ``dream zoom`` and ``dream video`` share: the objective schedule, the output and frames folder,
the one-line frame progress, and the dreamers (one model for every objective of the schedule).

Both commands write numbered frames into a frames folder (the run's state:
the same command run again after a kill continues) and encode them into the
video named by ``-o`` (MP4/MOV/MKV, GIF or WebP), or keep only the frames
when ``-o`` is a folder.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import click

from dreamer.cli.common import EXIT_FAILED_INPUT, EXIT_USAGE, make_say
from dreamer.cli.options import setting_option
from dreamer.errors import DreamerError
from dreamer.video.defaults import CRF


def stack(options):
    """A decorator that applies click options in the order listed."""

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def dataclass_options(cls, names: tuple[str, ...]):
    """Options for the named fields of a settings dataclass, from each field's ``Setting`` and default."""
    chosen = {f.name: f for f in fields(cls) if f.name in names}
    return stack([setting_option(name, chosen[name].metadata["setting"], chosen[name].default) for name in names])


objective_options = stack([
    click.option("-l", "--layer", "layers", multiple=True, metavar="OBJECTIVE",
                 help="What to excite (the forms of 'dream --help'); repeat to add terms. "
                      "[default: the model's default layer]"),
    click.option("--layer-from", "layer_from", multiple=True, type=(click.IntRange(min=0), str),
                 metavar="FRAME OBJECTIVE",
                 help="From this frame on, dream on this objective instead; repeatable "
                      "(--layer A --layer-from 100 B)."),
    click.option("--loss", type=click.Choice(["l2", "mean"]), default=None,
                 help="l2 (DeepDream) or mean, for terms without their own. "
                      "[default: l2 for layers, mean for channels]"),
    click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto", show_default=True,
                 help="The network's arithmetic (see 'dream --help')."),
])


def output_options(default_output: str):
    """-o, --crf, --frames-dir, --keep-frames, --overwrite, --quiet."""
    return stack([
        click.option("-o", "--output", type=click.Path(), default=None,
                     help=f"The video (.mp4, .mov, .mkv, .gif, .webp), or a folder ending in / for numbered "
                          f"frames only. [default: {default_output}]"),
        click.option("--crf", type=click.IntRange(0, 51), default=CRF, show_default=True,
                     help="H.264 quality: 0 lossless, 51 worst."),
        click.option("--frames-dir", type=click.Path(file_okay=False), default=None,
                     help="The frames folder (the run's state). [default: <output>_frames beside the video]"),
        click.option("--keep-frames", is_flag=True, help="Keep the frames folder after the video is written."),
        click.option("--overwrite", is_flag=True,
                     help="Replace an existing video, and start again over frames made with other settings."),
        click.option("-q", "--quiet", is_flag=True, help="No progress and no messages, only errors."),
    ])


def prepare(output: str | None, default_name: str, source: Path | None, objective: tuple, config_settings: dict,
            model_settings: tuple, *, overwrite: bool, frames_dir: str | None, quiet: bool):
    """The output plan, the config (seed resolved against the frames folder) and the schedule's Dreamers.

    ``objective``: (layers, layer_from, loss, precision); ``model_settings``:
    (model, weights, preprocess, unsafe_load, cache_dir).
    """
    from dreamer.cli.dream import make_config
    from dreamer.video import jobs
    from dreamer.video.schedule import make_schedule
    from dreamer.video.state import FramesFolder

    layers, layer_from, loss, precision = objective
    out = jobs.plan_output(output, default_name, overwrite, frames_dir, source, make_say(quiet))
    seed = jobs.resolve_seed(FramesFolder(out.frames), config_settings.pop("seed"), overwrite)
    config = make_config(seed=seed, **config_settings)
    make = dreamer_maker(loss, precision, model_settings, quiet)
    return out, config, jobs.make_dreamers(make_schedule(layers, layer_from), make)


def dreamer_maker(loss: str | None, precision: str, model_settings: tuple, quiet: bool):
    """``make(spec, adapter)``: a Dreamer of ``spec``, loading the model as ``dream`` does when ``adapter`` is None."""
    from dreamer.api import Dreamer
    from dreamer.cli.dream import make_dreamer

    model, weights, preprocess, unsafe_load, cache_dir = model_settings

    def make(spec, adapter):
        if adapter is None:
            return make_dreamer(model, list(spec), loss, cache_dir, weights, preprocess, unsafe_load=unsafe_load,
                                quiet=quiet, say=make_say(quiet), precision=precision)
        dreamer = Dreamer(adapter, list(spec) or None, loss=loss, precision=precision)
        dreamer.gradient  # noqa: B018 - compiled now, before any frame
        return dreamer

    return make


def resumed_note(summary) -> str:
    """``", 12 made now"`` when a run continued an earlier one, else nothing."""
    return "" if summary.rendered == summary.frames else f", {summary.rendered} made now"


def frame_progress(quiet: bool):
    """A one-line progress report on stderr: frame i / N, frames per minute, ETA (None when quiet)."""
    if quiet:
        return None

    live = sys.stderr.isatty()  # piped: a whole line every tenth of the frames, not one \r-joined line

    def show(event) -> None:
        if not live and event.done < event.total and event.done % max(1, event.total // 10):
            return
        minutes, seconds = divmod(int(event.eta_seconds), 60)
        click.echo(f"{chr(13) if live else ''}frame {event.done}/{event.total}  {event.frames_per_minute:.1f} "
                   f"frames/min  ETA {minutes}:{seconds:02d} ", nl=not live or event.done >= event.total, err=True)

    return show


@contextmanager
def run_errors():
    """A DreamerError while rendering: one line, exit 1 (the frames made so far stay for a resume).

    A frames folder that doesn't fit the run is found before any frame: exit 2.
    """
    from dreamer.video.state import FramesFolderError

    try:
        yield
    except DreamerError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE if isinstance(exc, FramesFolderError) else EXIT_FAILED_INPUT)
