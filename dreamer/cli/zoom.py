"""``dream zoom [INPUT]``: the infinite zoom, each frame the previous one zoomed in and dreamed again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from dreamer.cli.common import make_say, model_options, signals_as_exceptions, take, user_errors
from dreamer.cli.configured import ConfiguredCommand, config_file_options
from dreamer.cli.frames import (
    frame_progress,
    objective_options,
    output_options,
    prepare,
    resumed_note,
    run_errors,
)
from dreamer.cli.options import config_options_from, options_from
from dreamer.video.defaults import ZOOM_CONFIG, ZOOM_NOISE_SIZE
from dreamer.video.settings import ZoomMotion, ZoomRun


def parse_size(ctx, param, value: str) -> tuple[int, int]:
    """``WxH`` -> (W, H), each side between 32 and 8192."""
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 512x512") from None
    if min(width, height) < 32 or max(width, height) > 8192:
        raise click.BadParameter(f"{value}: each side must be between 32 and 8192")
    return width, height


@click.command("zoom", cls=ConfiguredCommand, table="zoom")
@click.argument("input", required=False, type=click.Path(exists=True, dir_okay=False), metavar="[INPUT]")
@options_from(ZoomRun, ("frames",))
@options_from(ZoomMotion, ("zoom", "spin"))
@click.option("--pan", type=(float, float), default=(0.0, 0.0), show_default=True, metavar="DX DY",
              help="Pixels per frame that the view moves.")
@click.option("--size", default="{}x{}".format(*ZOOM_NOISE_SIZE), show_default=True, callback=parse_size,
              metavar="WxH", help="The frame size when starting from grey noise (no INPUT).")
@options_from(ZoomRun, ("max_size", "fps"))
@objective_options
@config_options_from(ZOOM_CONFIG)
@output_options("outputs/<input>_zoom.mp4")
@model_options
@config_file_options
def zoom_command(input, **options):
    """The infinite zoom: each frame is the previous one zoomed in a little and dreamed again.

    Starts from INPUT, or from grey noise without one. Run the same command
    again after an interruption and it continues from the last frame. The
    dream settings (--iterations, --octaves ...) apply to every frame.

    \b
    Examples:
      dream zoom samples/chelsea.png --frames 60 -o outputs/zoom.mp4
      dream zoom --size 640x360 --spin 0.5 -o outputs/noise_zoom.gif
      dream zoom photo.jpg --layer block4c_add --layer-from 100 block5c_add --frames 200
      dream zoom photo.jpg -o frames/            # numbered PNG frames only
      dream zoom photo.jpg --config look.toml    # its [zoom] table: frames, layer, layer-from ...
    """
    from dreamer.video import jobs

    source = Path(input) if input else None
    options.pop("config", None)
    with user_errors():
        motion = ZoomMotion(zoom=options.pop("zoom"), spin=options.pop("spin"), pan=tuple(options.pop("pan")))
        run = replace(take(ZoomRun, options), motion=motion)
        ready = prepare(options, f"{source.stem if source else 'noise'}_zoom.mp4", source)
    with signals_as_exceptions(), run_errors():
        summary = jobs.zoom(source, ready.output, ready.dreamers, ready.config, run, ready.encoding,
                            frame_progress(ready.quiet))
    make_say(ready.quiet)(f"wrote {summary.output} ({summary.frames} frames{resumed_note(summary)}, "
                          f"seed {ready.config.seed})")
