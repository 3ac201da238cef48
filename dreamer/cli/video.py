"""``dream video INPUT``: dream a video, coherent from frame to frame along the optical flow."""

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
from dreamer.video.defaults import VIDEO_CONFIG
from dreamer.video.settings import FLOW_METHODS, Coherence, VideoRun


@click.command("video", cls=ConfiguredCommand, table="video")
@click.argument("input", type=click.Path(exists=True, dir_okay=False), metavar="INPUT")
@options_from(Coherence, ("blend",))
@click.option("--no-flow", is_flag=True, help="Dream every frame on its own (the naive way; it flickers).")
@click.option("--flow-method", type=click.Choice(FLOW_METHODS), default=Coherence.method, show_default=True,
              help="OpenCV's optical flow: DIS (fast) or Farneback.")
@options_from(VideoRun, ("max_size", "max_frames"))
@objective_options
@config_options_from(VIDEO_CONFIG)
@output_options("outputs/<input>_dreamed.mp4")
@model_options
@config_file_options
def video_command(input, **options):
    """Dream a video, keeping the dream coherent from frame to frame with optical flow.

    The previous frame's dream detail is moved along the motion between the
    input frames and blended into the next frame before it is dreamed, so
    the patterns move with the scene. The first frame gets --iterations steps
    per octave, later ones (1 - blend) of them, since the rest is carried
    over. The output keeps the input's frame rate and audio track. At the end
    the flicker score is reported: the mean change between consecutive frames
    (0-255) once the motion is compensated.

    \b
    Examples:
      dream video clip.mp4 -o outputs/clip_dreamed.mp4
      dream video clip.mp4 --max-size 640 --blend 0.8 --layer block4c_add
      dream video clip.mp4 --no-flow -o outputs/naive.mp4
      dream video clip.mp4 --config look.toml    # its [video] table: blend, layer, layer-from ...
    """
    from dreamer.video import jobs

    source = Path(input)
    options.pop("config", None)
    with user_errors():
        coherence = Coherence(flow=not options.pop("no_flow"), blend=options.pop("blend"),
                              method=options.pop("flow_method"))
        run = replace(take(VideoRun, options), coherence=coherence)
        ready = prepare(options, f"{source.stem}_dreamed.mp4", source)
    say = make_say(ready.quiet)
    with signals_as_exceptions(), run_errors():
        summary = jobs.video(source, ready.output, ready.dreamers, ready.config, run, ready.encoding,
                             frame_progress(ready.quiet))
    say(f"wrote {summary.output} ({summary.frames} frames{resumed_note(summary)}, seed {ready.config.seed})")
    if summary.flicker is not None:
        say(f"flicker {summary.flicker:.2f} (the input's own: {summary.input_flicker:.2f}; 0-255 scale)")
