"""Video files in and out, with the ffmpeg binary that ships in imageio-ffmpeg.

No system ffmpeg is needed. Frames are uint8 HxWx3 RGB arrays and are
streamed: reading yields one frame at a time, writing takes an iterator, so
memory does not grow with a video's length. Every file is written under a
temporary name and renamed when complete (``dreamer.fileio.atomic_path``).

Outputs by extension: ``.mp4``, ``.mov``, ``.mkv`` (H.264, ``crf`` quality,
yuv420p so every player shows it), ``.gif`` and ``.webp`` (animated, through
Pillow). Audio passthrough copies the input's first audio track into an
MP4/MOV/MKV result (re-encoded to AAC if the container can't hold it as is).
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from dreamer.errors import DreamerError
from dreamer.fileio import atomic_path
from dreamer.video.defaults import CRF

#: Extensions written through ffmpeg with H.264.
FFMPEG_FORMATS = (".mp4", ".mov", ".mkv")
#: Extensions written as animations through Pillow.
ANIMATION_FORMATS = (".gif", ".webp")
VIDEO_FORMATS = FFMPEG_FORMATS + ANIMATION_FORMATS


class VideoError(DreamerError):
    """A video that can't be read or written."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: frame rate, size (width, height), frame count, whether it has audio."""

    fps: float
    size: tuple[int, int]
    frames: int
    has_audio: bool


def ffmpeg_exe() -> str:
    """The path of the ffmpeg binary bundled with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: str | Path) -> VideoInfo:
    """Read a video's frame rate, size, frame count and audio presence.

    Raises:
        VideoError: the file is missing or ffmpeg finds no video in it.
    """
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = _header(reader)
        reader.close()
    except (RuntimeError, OSError, StopIteration) as exc:
        raise VideoError(f"{path}: not a video ffmpeg can read ({_last_line(exc)})") from None
    fps = float(meta.get("fps") or 0) or 25.0
    try:
        frames = imageio_ffmpeg.count_frames_and_secs(str(path))[0]
    except (RuntimeError, OSError):
        frames = max(1, round(float(meta.get("duration") or 0) * fps))
    return VideoInfo(fps=fps, size=tuple(meta["size"]), frames=frames, has_audio=has_audio(path))


def has_audio(path: str | Path) -> bool:
    """Whether ffmpeg sees an audio stream in the file."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return re.search(r"Stream #\S+.*: Audio:", result.stderr) is not None


def even_size(width: int, height: int, max_size: int | None = None) -> tuple[int, int]:
    """The working size: fit the long side within ``max_size``, both sides even (H.264's yuv420p needs it)."""
    if max_size is not None and max(width, height) > max_size:
        scale = max_size / max(width, height)
        width, height = width * scale, height * scale
    return max(2, int(width) // 2 * 2), max(2, int(height) // 2 * 2)


def read_frames(path: str | Path, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Yield the video's frames as uint8 HxWx3 RGB, one at a time, resized to ``size`` (W, H) if given."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = _header(reader)
    width, height = meta["size"]
    try:
        for buffer in reader:
            if len(buffer) != width * height * 3:
                raise VideoError(f"{path}: a frame is not {width}x{height} as the header says")
            frame = np.frombuffer(buffer, np.uint8).reshape(height, width, 3)
            yield frame if size is None or size == (width, height) else resize_frame(frame, size)
    finally:
        reader.close()


def _header(reader) -> dict:
    """The reader's first item, its metadata, without imageio-ffmpeg's note that a rotated video's size is swapped."""
    log = logging.getLogger("imageio_ffmpeg")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        return next(reader)
    finally:
        log.setLevel(level)


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A uint8 frame resized to ``size`` (W, H): area averaging down, bicubic up."""
    import cv2

    shrinking = size[0] < frame.shape[1]
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def check_output_format(path: Path) -> str:
    """The lower-case extension of a video output, checked.

    Raises:
        VideoError: not one of ``VIDEO_FORMATS``.
    """
    suffix = path.suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise VideoError(f"{path}: can't write {suffix or 'files without an extension'} videos; "
                         f"use {', '.join(VIDEO_FORMATS)}, or a folder ending in / for numbered frames")
    return suffix


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: float, crf: int = CRF,
                audio_from: str | Path | None = None) -> Path:
    """Encode uint8 HxWx3 frames into ``path`` (format by extension), atomically.

    Args:
        frames: the frames, all of one size, streamed.
        fps: frames per second.
        crf: H.264 quality, 0 (lossless) to 51 (worst); 18 looks like the source.
        audio_from: a file whose first audio track is copied in (MP4/MOV/MKV only).

    Raises:
        VideoError: no frames, or the encoder failed.
    """
    path = Path(path)
    suffix = check_output_format(path)
    with atomic_path(path) as tmp:
        if suffix in ANIMATION_FORMATS:
            _write_animation(frames, tmp, fps)
        elif audio_from is None:
            _write_h264(frames, tmp, fps, crf)
        else:
            silent = tmp.with_name(tmp.stem + ".silent" + tmp.suffix)
            try:
                _write_h264(frames, silent, fps, crf)
                mux_audio(silent, audio_from, tmp)
            finally:
                silent.unlink(missing_ok=True)
    return path


def _write_h264(frames: Iterable[np.ndarray], path: Path, fps: float, crf: int) -> None:
    import imageio_ffmpeg

    writer = None
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = imageio_ffmpeg.write_frames(
                    str(path), (width, height), fps=fps, codec="libx264", quality=None, pix_fmt_out="yuv420p",
                    macro_block_size=2, ffmpeg_log_level="error", output_params=["-crf", str(crf)],
                )
                writer.send(None)
            writer.send(np.ascontiguousarray(frame))
    except (RuntimeError, OSError, BrokenPipeError) as exc:
        raise VideoError(f"{path.name}: the video encoder failed ({_last_line(exc)})") from None
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise VideoError("no frames to write")


def _write_animation(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    """An animated GIF or WebP through Pillow (frames are converted as they come)."""
    from PIL import Image

    images = (Image.fromarray(frame) for frame in frames)
    first = next(images, None)
    if first is None:
        raise VideoError("no frames to write")
    duration = max(1, round(1000 / fps))
    options = {"lossless": False, "quality": 85} if path.suffix.lower() == ".webp" else {"optimize": False}
    first.save(path, save_all=True, append_images=images, duration=duration, loop=0, **options)


def mux_audio(video: Path, source: str | Path, out: Path) -> None:
    """Write ``out``: ``video``'s picture with ``source``'s first audio track (copied, else AAC).

    Raises:
        VideoError: ffmpeg could not combine them.
    """
    base = [ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video), "-i", str(source),
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-shortest"]
    for audio in (["-c:a", "copy"], ["-c:a", "aac", "-b:a", "192k"]):
        result = subprocess.run([*base, *audio, str(out)], capture_output=True, text=True)
        if result.returncode == 0:
            return
    raise VideoError(f"could not copy the audio of {Path(source).name} ({_last_line(result.stderr)})")


def _last_line(error) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"
