#!/usr/bin/env python
"""Make the docs' moving-dream pictures (docs/img/) (run from the repository root; takes a few minutes on 2 cores).

    python benchmarks/video_figures.py

docs/img/zoom_chelsea.gif
    ``dream zoom samples/chelsea.png --frames 30 --max-size 256 --seed 1``
    (default zoom settings), saved as a 204 px GIF of 32 colours so it stays
    a few hundred KB.
docs/img/video_naive_vs_flow.jpg
    A 320x180 window panning 3 px a frame across ``samples/chelsea.png``,
    dreamed by ``dream video --seed 1`` with ``--no-flow`` (top) and with the
    default flow mode (bottom): frames 8 and 9, and their change once the
    motion is compensated (x4, the flicker the score measures).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
README = ROOT / "docs" / "img"


def dream(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dreamer.cli", *args, "-q"], cwd=ROOT, check=True)


def zoom_gif(tmp: Path) -> Path:
    from dreamer.video.state import FramesFolder

    dream("zoom", "samples/chelsea.png", "--frames", "30", "--max-size", "256", "--seed", "1", "-o", f"{tmp}/zoom/")
    frames = [Image.fromarray(f) for f in FramesFolder(tmp / "zoom").frames(30)]
    size = (frames[0].width * 4 // 5, frames[0].height * 4 // 5)
    small = [f.resize(size, Image.Resampling.LANCZOS).quantize(32, dither=Image.Dither.NONE) for f in frames]
    out = README / "zoom_chelsea.gif"
    small[0].save(out, save_all=True, append_images=small[1:], duration=83, loop=0, optimize=True)
    return out


def naive_vs_flow(tmp: Path, first: int = 8) -> Path:
    from dreamer.images import load_image
    from dreamer.video.flow import backward_flow, warp
    from dreamer.video.media import write_video
    from dreamer.video.state import FramesFolder

    source = (load_image(ROOT / "samples" / "chelsea.png").rgb * 255).astype(np.uint8)
    inputs = [source[40:220, 20 + 3 * i:340 + 3 * i] for i in range(first + 2)]
    write_video(iter(inputs), tmp / "pan.mp4", fps=12, crf=0)
    rows = []
    for name, extra in (("naive", ["--no-flow"]), ("flow", [])):
        dream("video", str(tmp / "pan.mp4"), "--seed", "1", *extra, "-o", f"{tmp}/{name}/")
        a, b = FramesFolder(tmp / name).read(first), FramesFolder(tmp / name).read(first + 1)
        flow = backward_flow(inputs[first], inputs[first + 1])
        change = np.abs(b.astype(np.float32) - warp(a.astype(np.float32), flow)).mean(axis=-1)
        heat = np.repeat(np.clip(change * 4, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
        rows.append(np.concatenate([a, b, heat], axis=1))
    out = README / "video_naive_vs_flow.jpg"
    Image.fromarray(np.concatenate(rows, axis=0)).save(out, quality=88)
    return out


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for path in (zoom_gif(Path(tmp)), naive_vs_flow(Path(tmp))):
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
