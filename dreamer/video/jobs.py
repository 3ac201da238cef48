"""What ``dream zoom`` and ``dream video`` do, as plain functions the CLI calls.

Plan the output (a video file, or only a folder of frames), resolve the seed
against a frames folder left by an earlier run, render the missing frames,
encode the video (with the input's audio), and summarise. Errors are
DreamerErrors with one-line messages; the CLI decides exit codes.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from dreamer.errors import DreamerError
from dreamer.outputs import DEFAULT_OUTPUT_DIR, ensure_folder, free_name
from dreamer.video import media
from dreamer.video.render import (
    FrameProgress,
    carried_iterations,
    frame_dreamer,
    mean_fact,
    render,
    video_frames,
    zoom_frames,
)
from dreamer.video.schedule import Schedule, ScheduledDreamers
from dreamer.video.settings import Encoding, VideoRun, ZoomRun
from dreamer.video.state import FramesFolder
from dreamer.video.zoom import grey_noise

Say = Callable[[str], None]
DEFAULT_ENCODING = Encoding()
DEFAULT_VIDEO_RUN = VideoRun()


@dataclass(frozen=True)
class Output:
    """Where a run's frames go, and the video made from them (None: the frames are the result)."""

    frames: Path
    video: Path | None


@dataclass(frozen=True)
class Summary:
    """What a finished run made: frame count, how many this run rendered, and the flicker scores."""

    output: Path
    frames: int
    rendered: int
    flicker: float | None = None
    input_flicker: float | None = None


def plan_output(output_text: str | None, default_name: str, overwrite: bool, frames_dir: str | None,
                source: Path | None, say: Say) -> Output:
    """Decide the video file and the frames folder.

    ``-o`` ending in ``/`` (or an existing folder, or a name without an
    extension) asks for frames only. An existing video is replaced only with
    ``overwrite``; otherwise a free name is chosen and reported. The frames
    folder is ``<video stem>_frames`` beside the video unless given.

    Raises:
        DreamerError: an unknown video extension, or an output that is the input.
    """
    if output_text is not None and (output_text.endswith(("/", "\\")) or Path(output_text).is_dir()
                                    or not Path(output_text).suffix):
        return Output(frames=Path(output_text), video=None)
    video = Path(output_text) if output_text else DEFAULT_OUTPUT_DIR / default_name
    media.check_output_format(video)
    if source is not None and video.resolve() == source.resolve():
        raise DreamerError(f"{video}: the output would overwrite the input; choose another -o")
    ensure_folder(video.parent)
    if video.exists() and not overwrite:
        wanted, video = video, free_name(video)
        say(f"{wanted} exists; writing {video} instead (--overwrite replaces it)")
    frames = Path(frames_dir) if frames_dir else video.with_name(f"{video.stem}_frames")
    return Output(frames=frames, video=video)


def make_dreamers(schedule: Schedule, make: Callable) -> ScheduledDreamers:
    """The schedule's Dreamers, all built now (a bad layer fails before any frame).

    ``make(spec, adapter)`` loads the model when ``adapter`` is None, else reuses it.
    """
    dreamers = ScheduledDreamers(schedule, make)
    dreamers.prepare()
    return dreamers


def resolve_seed(folder: FramesFolder, seed: int | None, overwrite: bool) -> int:
    """The asked seed; else the one an earlier run recorded in the folder (so it continues); else a new one."""
    from dreamer.settings import new_seed

    if seed is not None:
        return seed
    saved = None if overwrite else folder.saved_settings()
    return int(saved["seed"]) if saved and "seed" in saved else new_seed()


def run_settings(kind: str, dreamers: ScheduledDreamers, config, extra: dict) -> dict:
    """Everything that decides a run's pixels, as recorded in the frames folder."""
    first = dreamers.for_frame(0)
    return {
        "kind": kind,
        "model": first.adapter.name,
        "schedule": dreamers.schedule.as_list(),
        "objectives": [dreamers.for_frame(start).objective.name for start, _ in dreamers.schedule.entries],
        "precision": first.gradient.precision,
        "config": {k: v for k, v in asdict(config).items() if k != "seed"},
        "seed": config.seed,
        **extra,
    }


def start_image(input_path: Path | None, size: tuple[int, int], max_size: int | None, seed: int) -> np.ndarray:
    """The zoom's first image: the input (fitted, even-sized) or grey noise of ``size`` (W, H); float32."""
    from dreamer.images import as_loaded

    if input_path is None:
        return grey_noise(*media.even_size(*size), seed)
    rgb = as_loaded(input_path, max_size).rgb
    width, height = media.even_size(rgb.shape[1], rgb.shape[0])
    return rgb[:height, :width]


def zoom(input_path: Path | None, output: Output, dreamers: ScheduledDreamers, config, run: ZoomRun,
         encoding: Encoding = DEFAULT_ENCODING, progress: Callable[[FrameProgress], None] | None = None) -> Summary:
    """Render (or continue) a zoom into ``output``; ``config.seed`` is the run's base seed."""
    folder = FramesFolder(output.frames)
    first = start_image(input_path, run.size, run.max_size, config.seed)
    extra = {"input": None if input_path is None else str(input_path.resolve()),
             "size": [first.shape[1], first.shape[0]], "motion": asdict(run.motion)}
    done = min(folder.start(run_settings("zoom", dreamers, config, extra), encoding.overwrite), run.frames)
    previous = folder.read(done - 1) if done else None
    generator = zoom_frames(first, frame_dreamer(dreamers.for_frame, config), run.motion, run.frames, done, previous)
    count = render(generator, folder, run.frames, done, config.seed, _label(dreamers), progress)
    return _finish(folder, output, count, done, run.fps, encoding, None)


def video(input_path: Path, output: Output, dreamers: ScheduledDreamers, config, run: VideoRun = DEFAULT_VIDEO_RUN,
          encoding: Encoding = DEFAULT_ENCODING, progress: Callable[[FrameProgress], None] | None = None) -> Summary:
    """Dream (or continue dreaming) a video file into ``output``; ``config.seed`` is the base seed."""
    coherence, max_size, max_frames, overwrite = run.coherence, run.max_size, run.max_frames, encoding.overwrite
    if coherence.iterations is None:
        coherence = replace(coherence, iterations=carried_iterations(config.iterations, coherence.blend))
    info = media.probe(input_path)
    size = media.even_size(*info.size, max_size)
    total = info.frames if max_frames is None else min(info.frames, max_frames)
    folder = FramesFolder(output.frames)
    extra = {"input": str(input_path.resolve()), "size": list(size), "coherence": asdict(coherence)}
    done = min(folder.start(run_settings("video", dreamers, config, extra), overwrite), total)
    previous = folder.read(done - 1) if done else None
    inputs = itertools.islice(media.read_frames(input_path, size), total)
    generator = video_frames(inputs, frame_dreamer(dreamers.for_frame, config), coherence, done, previous)
    count = render(generator, folder, total, done, config.seed, _label(dreamers), progress)
    keeps_audio = output.video is not None and output.video.suffix.lower() in media.FFMPEG_FORMATS
    audio = input_path if info.has_audio and keeps_audio else None
    return _finish(folder, output, count, done, info.fps, encoding, audio)


def _label(dreamers: ScheduledDreamers) -> Callable[[int], str]:
    return lambda index: dreamers.for_frame(index).objective.name


def _finish(folder: FramesFolder, output: Output, count: int, done: int, fps: float, encoding: Encoding,
            audio_from: Path | None) -> Summary:
    """Encode the frames into the video (if one was asked for) and summarise the run."""
    if count == 0:
        raise DreamerError("no frames were made (the input has none?)")
    facts = list(folder.facts(count))
    summary = Summary(output.video or output.frames, count, count - done, mean_fact(facts, "flicker"),
                      mean_fact(facts, "input_flicker"))
    if output.video is not None:
        media.write_video(folder.frames(count), output.video, fps, encoding.crf, audio_from)
        if not encoding.keep_frames:
            folder.remove()
    return summary




__all__ = ["Encoding", "Output", "Summary", "VideoRun", "ZoomRun", "plan_output", "make_dreamers", "resolve_seed",
           "zoom", "video"]
