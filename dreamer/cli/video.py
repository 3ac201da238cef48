"""``dream video INPUT``: dream a video, coherent from frame to frame along the optical flow."""

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
from dreamer.video.defaults import VIDEO_CONFIG
from dreamer.video.flow import FLOW_METHODS
from dreamer.video.render import Coherence


@click.command("video")
@click.argument("input", type=click.Path(exists=True, dir_okay=False), metavar="INPUT")
@dataclass_options(Coherence, ("blend",))
@click.option("--no-flow", is_flag=True, help="Dream every frame on its own (the naive way; it flickers).")
@click.option("--flow-method", type=click.Choice(FLOW_METHODS), default=Coherence.method, show_default=True,
              help="OpenCV's optical flow: DIS (fast) or Farneback.")
@click.option("--max-size", type=click.IntRange(min=32), default=None,
              help="Downscale the frames so their long side is at most this. [default: the input's size]")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Dream only the first N frames. [default: all]")
@objective_options
@config_options_from(VIDEO_CONFIG)
@output_options("outputs/<input>_dreamed.mp4")
@model_options
def video_command(input, blend, no_flow, flow_method, max_size, max_frames, layers, layer_from, loss, precision,
                  output, crf, frames_dir, keep_frames, overwrite, quiet, model, weights, preprocess, unsafe_load,
                  cache_dir, **config_settings):
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
    """
    from dreamer.video import jobs

    say = make_say(quiet)
    source = Path(input)
    with user_errors():
        coherence = Coherence(flow=not no_flow, blend=blend, method=flow_method)
        out, config, dreamers = prepare(
            output, f"{source.stem}_dreamed.mp4", source, (layers, layer_from, loss, precision), config_settings,
            (model, weights, preprocess, unsafe_load, cache_dir), overwrite=overwrite, frames_dir=frames_dir,
            quiet=quiet)
    with signals_as_exceptions(), run_errors():
        summary = jobs.video(source, out, dreamers, config, coherence, max_size=max_size, max_frames=max_frames,
                             crf=crf, overwrite=overwrite, keep_frames=keep_frames, progress=frame_progress(quiet))
    say(f"wrote {summary.output} ({summary.frames} frames{resumed_note(summary)}, seed {config.seed})")
    if summary.flicker is not None:
        say(f"flicker {summary.flicker:.2f} (the input's own: {summary.input_flicker:.2f}; 0-255 scale)")
