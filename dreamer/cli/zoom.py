"""``dream zoom [INPUT]``: the infinite zoom, each frame the previous one zoomed in and dreamed again."""

from __future__ import annotations

from pathlib import Path

import click

from dreamer.cli.common import make_say, model_options, signals_as_exceptions, user_errors
from dreamer.cli.frames import (
    dataclass_options,
    frame_progress,
    objective_options,
    output_options,
    prepare,
    resumed_note,
    run_errors,
)
from dreamer.cli.options import config_options_from
from dreamer.video.defaults import NOISE_SIZE, ZOOM_CONFIG, ZOOM_FPS, ZOOM_FRAMES
from dreamer.video.zoom import ZoomMotion


def parse_size(ctx, param, value: str) -> tuple[int, int]:
    """``WxH`` -> (W, H), each side between 32 and 8192."""
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 512x512") from None
    if min(width, height) < 32 or max(width, height) > 8192:
        raise click.BadParameter(f"{value}: each side must be between 32 and 8192")
    return width, height


@click.command("zoom")
@click.argument("input", required=False, type=click.Path(exists=True, dir_okay=False), metavar="[INPUT]")
@click.option("-n", "--frames", type=click.IntRange(min=1), default=ZOOM_FRAMES, show_default=True,
              help="How many frames.")
@dataclass_options(ZoomMotion, ("zoom", "spin"))
@click.option("--pan", type=(float, float), default=(0.0, 0.0), show_default=True, metavar="DX DY",
              help="Pixels per frame that the view moves.")
@click.option("--size", default="{}x{}".format(*NOISE_SIZE), show_default=True, callback=parse_size, metavar="WxH",
              help="The frame size when starting from grey noise (no INPUT).")
@click.option("--max-size", type=click.IntRange(min=32), default=None,
              help="Downscale INPUT so its long side is at most this. [default: full resolution]")
@click.option("--fps", type=click.FloatRange(min=0.1, max=1000), default=ZOOM_FPS, show_default=True,
              help="Frames per second of the video.")
@objective_options
@config_options_from(ZOOM_CONFIG)
@output_options("outputs/<input>_zoom.mp4")
@model_options
def zoom_command(input, frames, zoom, spin, pan, size, max_size, fps, layers, layer_from, loss, precision, output,
                 crf, frames_dir, keep_frames, overwrite, quiet, model, weights, preprocess, unsafe_load, cache_dir,
                 **config_settings):
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
    """
    from dreamer.video import jobs

    source = Path(input) if input else None
    with user_errors():
        motion = ZoomMotion(zoom=zoom, spin=spin, pan=tuple(pan))
        out, config, dreamers = prepare(
            output, f"{source.stem if source else 'noise'}_zoom.mp4", source, (layers, layer_from, loss, precision),
            config_settings, (model, weights, preprocess, unsafe_load, cache_dir),
            overwrite=overwrite, frames_dir=frames_dir, quiet=quiet)
    with signals_as_exceptions(), run_errors():
        summary = jobs.zoom(source, out, dreamers, config, motion, frames, size=size, max_size=max_size, fps=fps,
                            crf=crf, overwrite=overwrite, keep_frames=keep_frames, progress=frame_progress(quiet))
    make_say(quiet)(f"wrote {summary.output} ({summary.frames} frames{resumed_note(summary)}, seed {config.seed})")
