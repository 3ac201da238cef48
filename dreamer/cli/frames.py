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
from dataclasses import dataclass
from pathlib import Path

import click

from dreamer.cli.common import EXIT_FAILED_INPUT, EXIT_USAGE, ModelChoice, make_say, take
from dreamer.cli.options import options_from
from dreamer.errors import DreamerError
from dreamer.settings import FRAME_SETTING
from dreamer.video.settings import Encoding


def stack(options):
    """A decorator that applies click options in the order listed."""

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


objective_options = stack([
    click.option("-l", "--layer", "layers", multiple=True, metavar="OBJECTIVE",
                 help="What to excite (the forms of 'dream --help'); repeat to add terms. "
                      "[default: the model's default layer]"),
    click.option("--layer-from", "layer_from", multiple=True,
                 type=(click.IntRange(FRAME_SETTING.minimum, FRAME_SETTING.maximum), str),
                 metavar="FRAME OBJECTIVE",
                 help="From this frame on, dream on this objective instead; repeatable "
                      "(--layer A --layer-from 100 B; in a settings file: layer-from = [[100, \"B\"]])."),
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
        options_from(Encoding, ("crf",)),
        click.option("--frames-dir", type=click.Path(file_okay=False), default=None,
                     help="The frames folder (the run's state). [default: <output>_frames beside the video]"),
        click.option("--keep-frames", is_flag=True, help="Keep the frames folder after the video is written."),
        click.option("--overwrite", is_flag=True,
                     help="Replace an existing video, and start again over frames made with other settings."),
        click.option("-q", "--quiet", is_flag=True, help="No progress and no messages, only errors."),
    ])


@dataclass(frozen=True)
class ScheduleChoice:
    """The objective options of zoom and video: --layer, --layer-from, --loss, --precision."""

    layers: tuple[str, ...] = ()
    layer_from: tuple[tuple[int, str], ...] = ()
    loss: str | None = None
    precision: str = "auto"


@dataclass(frozen=True)
class FramesOutput:
    """Where a zoom's or video's result and frames go: -o, --frames-dir, and --quiet."""

    output: str | None = None
    frames_dir: str | None = None
    quiet: bool = False


@dataclass(frozen=True)
class Prepared:
    """A zoom or video run, ready: the output plan, the settings (seed resolved), the schedule's Dreamers."""

    output: object
    config: object
    dreamers: object
    encoding: object
    quiet: bool


def prepare(options: dict, default_name: str, source: Path | None) -> Prepared:
    """The output plan, the config (seed resolved against the frames folder) and the schedule's Dreamers,
    from a zoom or video command's options other than its own (``options`` is emptied of what it used).
    """
    from dreamer.cli.shared import make_config
    from dreamer.config import settings
    from dreamer.video import jobs
    from dreamer.video.schedule import make_schedule
    from dreamer.video.state import FramesFolder

    choice, schedule, where = take(ModelChoice, options), take(ScheduleChoice, options), take(FramesOutput, options)
    encoding = take(jobs.Encoding, options)
    out = jobs.plan_output(where.output, default_name, encoding.overwrite, where.frames_dir, source,
                           make_say(where.quiet))
    config_settings = {name: options.pop(name) for name in settings() if name in options}
    seed = jobs.resolve_seed(FramesFolder(out.frames), config_settings.pop("seed"), encoding.overwrite)
    config = make_config(seed=seed, **config_settings)
    make = dreamer_maker(schedule, choice, where.quiet)
    dreamers = jobs.make_dreamers(make_schedule(schedule.layers, schedule.layer_from), make)
    return Prepared(out, config, dreamers, encoding, where.quiet)


def dreamer_maker(schedule: ScheduleChoice, choice: ModelChoice, quiet: bool):
    """``make(spec, adapter)``: a Dreamer of ``spec``, loading the model as ``dream`` does when ``adapter`` is None."""
    from dreamer.cli.shared import make_dreamer

    def make(spec, adapter):
        chosen = dict(model=choice.model, layers=list(spec), loss=schedule.loss, weights=choice.weights,
                      preprocess=choice.preprocess, unsafe_load=choice.unsafe_load, precision=schedule.precision)
        return make_dreamer(chosen, choice.cache_dir, quiet=quiet, say=make_say(quiet), adapter=adapter)

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
