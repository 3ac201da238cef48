"""``dream zoom`` and ``dream video``: click shells over ``dreamer.video.jobs``.

Both write numbered frames into a frames folder (the run's state: run the
same command again after a kill and it continues) and encode them into the
video named by ``-o`` (MP4/MOV/MKV, GIF or WebP), or keep only the frames
when ``-o`` is a folder. TensorFlow is imported only inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dreamer.cli import (EXIT_FAILED_INPUT, EXIT_USAGE, UserError, _signals_as_exceptions, _user_errors, finite_float,
                         model_options)
from dreamer.errors import DreamerError
from dreamer.video import defaults


def parse_size(ctx, param, value: str) -> tuple[int, int]:
    """``WxH`` -> (W, H), both at least 32."""
    try:
        width, height = (int(part) for part in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 512x512") from None
    if min(width, height) < 32 or max(width, height) > 8192:
        raise click.BadParameter(f"{value}: each side must be between 32 and 8192")
    return width, height


def dream_options(iterations: int, octaves: int):
    """The objective and the per-frame dream settings, shared by zoom and video."""
    options = [
        click.option("-l", "--layer", "layers", multiple=True, metavar="OBJECTIVE",
                     help="What to excite (the forms of 'dream --help'); repeat to add terms. "
                          "[default: the model's default layer]"),
        click.option("--layer-from", "layer_from", multiple=True, type=(click.IntRange(min=0), str),
                     metavar="FRAME OBJECTIVE",
                     help="From this frame on, dream on this objective instead; repeatable "
                          "(--layer A --layer-from 100 B)."),
        click.option("--loss", type=click.Choice(["l2", "mean"]), default=None,
                     help="l2 (DeepDream) or mean, for terms without their own. [default: l2 for layers, "
                          "mean for channels]"),
        click.option("-i", "--iterations", type=click.IntRange(min=1), default=iterations, show_default=True,
                     help="Gradient-ascent steps per octave, per frame."),
        click.option("--octaves", type=click.IntRange(min=1), default=octaves, show_default=True,
                     help="Number of scales per frame, the full size included."),
        click.option("--octave-scale", type=float, default=1.4, show_default=True,
                     callback=finite_float(1.0, exclusive=True), help="Size ratio between octaves (above 1)."),
        click.option("-s", "--step-size", type=float, default=1.5, show_default=True,
                     callback=finite_float(0.0, exclusive=True),
                     help="Mean change of a pixel per step, on the 0-255 scale."),
        click.option("--jitter", type=click.IntRange(min=0), default=32, show_default=True,
                     help="Largest random shift in pixels before each step."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Base seed; each frame's seed is derived from it and the frame number. "
                          "[default: the frames folder's, else random]"),
        click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto",
                     show_default=True, help="The network's arithmetic (see 'dream --help')."),
    ]
    return _stack(options)


def output_options(default_output: str):
    """Where the frames and the video go."""
    options = [
        click.option("-o", "--output", type=click.Path(), default=None,
                     help=f"The video (.mp4, .mov, .mkv, .gif, .webp), or a folder ending in / for numbered "
                          f"frames only. [default: {default_output}]"),
        click.option("--crf", type=click.IntRange(0, 51), default=defaults.CRF, show_default=True,
                     help="H.264 quality: 0 lossless, 51 worst."),
        click.option("--frames-dir", type=click.Path(file_okay=False), default=None,
                     help="The frames folder (the run's state). [default: <output>_frames beside the video]"),
        click.option("--keep-frames", is_flag=True, help="Keep the frames folder after the video is written."),
        click.option("--overwrite", is_flag=True,
                     help="Replace an existing video, and start again over frames made with other settings."),
        click.option("-q", "--quiet", is_flag=True, help="No progress and no messages, only errors."),
    ]
    return _stack(options)


def _stack(options):
    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.command("zoom")
@click.argument("input", required=False, type=click.Path(exists=True, dir_okay=False), metavar="[INPUT]")
@click.option("-n", "--frames", type=click.IntRange(min=1), default=defaults.ZOOM["frames"], show_default=True,
              help="How many frames.")
@click.option("--zoom", "zoom_factor", type=float, default=defaults.ZOOM["zoom"], show_default=True,
              callback=finite_float(0.0, exclusive=True), help="Scale factor per frame (1.05: 5% closer).")
@click.option("--rotate", type=float, default=defaults.ZOOM["rotate"], show_default=True,
              help="Degrees per frame, counter-clockwise.")
@click.option("--pan", type=(float, float), default=(0.0, 0.0), show_default=True, metavar="DX DY",
              help="Pixels per frame that the view moves.")
@click.option("--size", default=defaults.ZOOM["size"], show_default=True, callback=parse_size, metavar="WxH",
              help="The frame size when starting from grey noise (no INPUT).")
@click.option("--max-size", type=click.IntRange(min=32), default=None,
              help="Downscale INPUT so its long side is at most this. [default: full resolution]")
@click.option("--fps", type=float, default=defaults.ZOOM["fps"], show_default=True,
              callback=finite_float(0.0, exclusive=True), help="Frames per second of the video.")
@dream_options(defaults.ZOOM["iterations"], defaults.ZOOM["octaves"])
@output_options("outputs/<input>_zoom.mp4")
@model_options
def zoom_command(input, frames, zoom_factor, rotate, pan, size, max_size, fps, layers, layer_from, loss,
                 iterations, octaves, octave_scale, step_size, jitter, seed, precision, output, crf, frames_dir,
                 keep_frames, overwrite, quiet, model, weights, preprocess, unsafe_load, cache_dir):
    """The infinite zoom: each frame is the previous one zoomed in a little and dreamed again.

    Starts from INPUT, or from grey noise without one. Run the same command
    again after an interruption and it continues from the last frame.

    \b
    Examples:
      dream zoom samples/chelsea.png --frames 60 -o outputs/zoom.mp4
      dream zoom --size 640x360 --rotate 0.5 -o outputs/noise_zoom.gif
      dream zoom photo.jpg --layer block4c_add --layer-from 100 block5c_add --frames 200
      dream zoom photo.jpg -o frames/            # numbered PNG frames only
    """
    from dreamer.video import jobs
    from dreamer.video.zoom import ZoomMotion

    say = _say(quiet)
    source = Path(input) if input else None
    default_name = f"{source.stem if source else 'noise'}_zoom.mp4"
    with _user_errors():
        motion = ZoomMotion(zoom=zoom_factor, rotate=rotate, pan=tuple(pan))
        out, config, dreamers = _prepare(output, default_name, overwrite, frames_dir, source, say, seed,
                                         layers, layer_from, loss, iterations, octaves, octave_scale, step_size,
                                         jitter, precision, quiet, model, weights, preprocess, unsafe_load,
                                         cache_dir)
    with _signals_as_exceptions(), _run_errors():
        summary = jobs.zoom(source, out, dreamers, config, motion, frames, size=size, max_size=max_size, fps=fps,
                            crf=crf, overwrite=overwrite, keep_frames=keep_frames, progress=_progress(quiet))
    say(f"wrote {summary.output} ({summary.frames} frames, seed {config.seed})")


@click.command("video")
@click.argument("input", type=click.Path(exists=True, dir_okay=False), metavar="INPUT")
@click.option("--blend", type=click.FloatRange(0.0, 1.0), default=defaults.VIDEO["blend"], show_default=True,
              help="How much of the previous frame's dream, moved along the optical flow, starts the next.")
@click.option("--no-flow", is_flag=True, help="Dream every frame on its own (the naive way; it flickers).")
@click.option("--flow-method", type=click.Choice(["dis", "farneback"]), default=defaults.VIDEO["method"],
              show_default=True, help="OpenCV's optical flow: DIS (fast) or Farneback.")
@click.option("--max-size", type=click.IntRange(min=32), default=None,
              help="Downscale the frames so their long side is at most this. [default: the input's size]")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Dream only the first N frames. [default: all]")
@dream_options(defaults.VIDEO["iterations"], defaults.VIDEO["octaves"])
@output_options("outputs/<input>_dreamed.mp4")
@model_options
def video_command(input, blend, no_flow, flow_method, max_size, max_frames, layers, layer_from, loss, iterations,
                  octaves, octave_scale, step_size, jitter, seed, precision, output, crf, frames_dir, keep_frames,
                  overwrite, quiet, model, weights, preprocess, unsafe_load, cache_dir):
    """Dream a video, keeping the dream coherent from frame to frame with optical flow.

    The previous frame's dream is moved along the motion between the input
    frames and blended into the next frame before it is dreamed, so the
    patterns move with the scene. The first frame gets --iterations steps per
    octave, later ones (1 - blend) of them, since the rest is carried over.
    The output keeps the input's frame rate and audio track. At the end the
    flicker score is reported: the mean change between consecutive frames
    (0-255) once the motion is compensated.

    \b
    Examples:
      dream video clip.mp4 -o outputs/clip_dreamed.mp4
      dream video clip.mp4 --max-size 640 --blend 0.8 --layer block4c_add
      dream video clip.mp4 --no-flow -o outputs/naive.mp4
    """
    from dreamer.video import jobs
    from dreamer.video.render import Coherence

    say = _say(quiet)
    source = Path(input)
    with _user_errors():
        coherence = Coherence(flow=not no_flow, blend=blend, method=flow_method)
        out, config, dreamers = _prepare(output, f"{source.stem}_dreamed.mp4", overwrite, frames_dir, source, say,
                                         seed, layers, layer_from, loss, iterations, octaves, octave_scale,
                                         step_size, jitter, precision, quiet, model, weights, preprocess,
                                         unsafe_load, cache_dir)
    with _signals_as_exceptions(), _run_errors():
        summary = jobs.video(source, out, dreamers, config, coherence, max_size=max_size, max_frames=max_frames,
                             crf=crf, overwrite=overwrite, keep_frames=keep_frames, progress=_progress(quiet))
    say(f"wrote {summary.output} ({summary.frames} frames, seed {config.seed})")
    if summary.flicker is not None:
        say(f"flicker {summary.flicker:.2f} (the input's own: {summary.input_flicker:.2f}; 0-255 scale)")


def _prepare(output, default_name, overwrite, frames_dir, source, say, seed, layers, layer_from, loss,
             iterations, octaves, octave_scale, step_size, jitter, precision, quiet, model, weights, preprocess,
             unsafe_load, cache_dir):
    """The output plan, the config (seed resolved against the frames folder) and the schedule's Dreamers."""
    from dreamer import pipeline
    from dreamer.video import jobs
    from dreamer.video.schedule import make_schedule
    from dreamer.video.state import FramesFolder

    out = jobs.plan_output(output, default_name, overwrite, frames_dir, source, say)
    seed = jobs.resolve_seed(FramesFolder(out.frames), seed, overwrite)
    config = pipeline.make_config(seed=seed, iterations=iterations, octaves=octaves, octave_scale=octave_scale,
                                  step_size=step_size, jitter=jitter)
    schedule = make_schedule(layers, layer_from)
    make_first, make_more = jobs.dreamer_factory(model, loss, cache_dir, weights, preprocess, unsafe_load=unsafe_load,
                                                 quiet=quiet, say=say, precision=precision)
    return out, config, jobs.make_dreamers(schedule, make_first, make_more)


def _say(quiet: bool):
    return (lambda _msg: None) if quiet else (lambda msg: click.echo(msg, err=True))


def _progress(quiet: bool):
    """A one-line progress report on stderr: frame i / N, frames per minute, ETA."""
    if quiet:
        return None

    def show(event) -> None:
        minutes, seconds = divmod(int(event.eta_seconds), 60)
        end = "\n" if event.done >= event.total else ""
        click.echo(f"\rframe {event.done}/{event.total}  {event.frames_per_minute:.1f} frames/min  "
                   f"ETA {minutes}:{seconds:02d} ", nl=False, err=True)
        click.echo(end, nl=False, err=True)

    return show


class _run_errors:
    """A DreamerError while rendering: one line, exit 1 (the frames made so far stay for a resume).

    A frames folder that doesn't fit the run is found before any frame: exit 2.
    """

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, trace):
        from dreamer.video.state import FramesFolderError

        if kind is not None and issubclass(kind, DreamerError):
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE if issubclass(kind, FramesFolderError) else EXIT_FAILED_INPUT)
        return False


__all__ = ["zoom_command", "video_command", "UserError"]
