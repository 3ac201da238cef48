"""The settings of ``dream zoom`` and ``dream video``, declared once (``dreamer.settings``).

``ZoomMotion`` (how each zoom frame moves), ``Coherence`` (how a video's
frames are tied together), ``ZoomRun`` and ``VideoRun`` (what a run renders)
and ``Encoding`` (how the frames become the result). Apart from the modules
that render so that the commands' options and ``--show-config`` need nothing
heavy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dreamer.errors import DreamerError
from dreamer.settings import MAX_SIZE_SETTING, check_fields, field_of, setting
from dreamer.video.defaults import CRF, ZOOM_FPS, ZOOM_FRAMES, ZOOM_NOISE_SIZE

#: OpenCV's optical flow methods (``dreamer.video.flow``).
FLOW_METHODS = ("dis", "farneback")


@dataclass(frozen=True)
class ZoomMotion:
    """How each frame moves from the previous one; each field's help is its ``Setting``.

    ``pan`` is the pixels per frame (x, y) that the view moves; the picture
    moves the other way.
    """

    zoom: float = setting(
        1.05, help="Scale factor per frame (1.05: 5% closer each frame).", flags=("--zoom",), kind=float,
        minimum=0.5, maximum=2.0)
    spin: float = setting(
        0.0, help="Rotation per frame in degrees, counter-clockwise.", flags=("--spin",), kind=float,
        minimum=-45.0, maximum=45.0)
    pan: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        check_fields(self)
        if not all(math.isfinite(p) and abs(p) <= 256 for p in self.pan):
            raise DreamerError("pan must be between -256 and 256 pixels per frame")


@dataclass(frozen=True)
class Coherence:
    """How a video's frames are tied together.

    Attributes:
        flow: carry the previous dreamed frame's detail along the optical flow
            (False: every frame is dreamed on its own, the naive way).
        blend: how much of that warped detail goes into the next frame's start.
        method: the optical flow method, ``"dis"`` or ``"farneback"``.
        iterations: the steps per octave of every frame after the first in
            flow mode (None: as the first). Since ``blend`` of the detail is
            carried, ``carried_iterations`` keeps the dream's strength that of
            a single frame's, and adds less new change per frame.
    """

    flow: bool = True
    blend: float = setting(
        0.7, help="How much of the previous frame's dream, moved along the optical flow, starts the next frame.",
        flags=("--blend",), kind=float, minimum=0.0, maximum=1.0)
    method: str = "dis"
    iterations: int | None = None

    def __post_init__(self):
        check_fields(self)
        if self.method not in FLOW_METHODS:
            raise DreamerError(f"unknown flow method {self.method!r}; choose from {', '.join(FLOW_METHODS)}")




@dataclass(frozen=True)
class Encoding:
    """How the frames become the result, and what of an earlier run is kept."""

    crf: int = setting(CRF, help="H.264 quality: 0 lossless, 51 worst.", flags=("--crf",), kind=int, minimum=0,
                       maximum=51)
    overwrite: bool = False
    keep_frames: bool = False

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class ZoomRun:
    """What a zoom renders: how many frames, how each moves, the start's size, the frame rate."""

    frames: int = setting(ZOOM_FRAMES, help="How many frames.", flags=("--frames", "-n"), kind=int, minimum=1,
                          maximum=100000)
    motion: ZoomMotion = field(default_factory=ZoomMotion)
    size: tuple[int, int] = ZOOM_NOISE_SIZE
    max_size: int | None = field_of(MAX_SIZE_SETTING)
    fps: float = setting(ZOOM_FPS, help="Frames per second of the video.", flags=("--fps",), kind=float,
                         minimum=0.1, maximum=1000.0)

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class VideoRun:
    """What a video run renders: how frames are tied together, and which of the input's frames, at what size."""

    coherence: Coherence = field(default_factory=Coherence)
    max_size: int | None = field_of(MAX_SIZE_SETTING)
    max_frames: int | None = setting(None, help="Dream only the first N frames.", flags=("--max-frames",), kind=int,
                                     minimum=1, maximum=10_000_000, unset_help="all")

    def __post_init__(self):
        check_fields(self)
