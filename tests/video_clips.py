"""Tiny synthetic clips for the video tests, made here with the bundled ffmpeg and numpy."""

from __future__ import annotations

import subprocess

import numpy as np


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A seeded, smooth-ish random colour texture, uint8 HxWx3 (flow needs structure to follow)."""
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)
    smooth = gaussian_filter(noise, sigma=(2.0, 2.0, 0))
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def panning_frames(frames: int = 10, size: tuple[int, int] = (64, 48), step: int = 2, seed: int = 0):
    """A window of ``size`` (W, H) moving right by ``step`` pixels a frame over one texture."""
    width, height = size
    source = texture(height + 8, width + step * frames + 8, seed)
    return [source[4:4 + height, 4 + i * step:4 + i * step + width].copy() for i in range(frames)]


def write_clip(path, frames, fps: float = 10.0, audio: bool = False) -> None:
    """Encode ``frames`` losslessly (H.264 crf 0) into ``path``, with a 440 Hz sine track if ``audio``."""
    from dreamer.video.media import ffmpeg_exe, write_video

    write_video(frames, path, fps, crf=0)
    if audio:
        seconds = len(frames) / fps
        silent = path.with_name("silent_" + path.name)
        path.rename(silent)
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(silent), "-f", "lavfi", "-i",
                        f"sine=frequency=440:duration={seconds}", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                        "-c:a", "aac", "-shortest", str(path)], check=True)
        silent.unlink()
