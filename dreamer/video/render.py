"""The frame loops: each frame made from the previous one, then dreamed.

``zoom_frames`` and ``video_frames`` are generators of ``(index, frame,
facts)``; ``render`` writes what they yield into a ``FramesFolder`` and
reports progress. Frames between stages are uint8 HxWx3, exactly what the
folder stores, so a resumed run continues from the same numbers an
uninterrupted run would have had. The dreaming itself is a function
``dream(start, index) -> uint8 frame`` (see ``frame_dreamer``) built on a
kept ``Dreamer``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import numpy as np

from dreamer.video.flow import backward_flow, flicker, warp
from dreamer.video.settings import Coherence, ZoomMotion
from dreamer.video.zoom import zoom_step

#: ``dream(start, index)``: float32 HxWx3 in [0, 1] and the frame's index -> the dreamed uint8 frame.
FrameDreamer = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class FrameProgress:
    """A frame is done: ``done`` of ``total`` frames exist, ``rendered`` of them made by this run."""

    done: int
    total: int
    rendered: int
    seconds: float

    @property
    def frames_per_minute(self) -> float:
        return 60.0 * self.rendered / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float:
        return (self.total - self.done) * self.seconds / self.rendered if self.rendered else 0.0


def frame_seed(base: int, index: int) -> int:
    """Frame ``index``'s seed, derived from the run's ``base`` seed (the same whenever it is computed)."""
    return int(np.random.SeedSequence([base, index]).generate_state(1)[0] >> 1)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """float32 [0, 1] -> uint8 [0, 255], rounded."""
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_float(frame: np.ndarray) -> np.ndarray:
    """uint8 -> float32 [0, 1]."""
    return frame.astype(np.float32) / 255.0


def frame_dreamer(dreamer_for: Callable[[int], object], config) -> FrameDreamer:
    """A FrameDreamer: the Dreamer in force at each frame, with ``config`` and the frame's own seed."""

    def dream(start: np.ndarray, index: int, iterations: int | None = None) -> np.ndarray:
        frame_config = replace(config, seed=frame_seed(config.seed, index), iterations=iterations or config.iterations)
        return to_uint8(dreamer_for(index).ascend(start, frame_config))

    return dream


def zoom_frames(first: np.ndarray, dream: FrameDreamer, motion: ZoomMotion, count: int, done: int = 0,
                previous: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray, dict]]:
    """Frames ``done`` .. ``count - 1`` of a zoom.

    Frame 0 is ``first`` (float32 HxWx3) dreamed; frame i is frame i-1
    (uint8) moved by ``motion`` and dreamed.

    Args:
        previous: frame ``done - 1`` when resuming (required if ``done > 0``).
    """
    for index in range(done, count):
        start = first if index == 0 else zoom_step(to_float(previous), motion)
        previous = dream(start, index)
        yield index, previous, {}


def carried_iterations(iterations: int, blend: float) -> int:
    """Steps per octave for a frame that starts with ``blend`` of the previous dream: ``(1 - blend)`` of them.

    The carried detail adds up over frames to about ``1 / (1 - blend)`` times
    one frame's, so this keeps the strength of a single dream.
    """
    return max(1, round(iterations * (1.0 - blend)))


def carry_detail(frame: np.ndarray, previous_input: np.ndarray, previous_output: np.ndarray,
                 flow: np.ndarray, blend: float) -> np.ndarray:
    """The next frame's start: ``frame`` plus ``blend`` times the previous frame's dream detail, warped.

    The detail is what the dream added (output minus input) to the previous
    frame; it is moved along the input frames' flow so patterns follow the
    scene; what comes in at an edge gets the edge's detail mirrored. Returns
    float32 in [0, 1].
    """
    detail = previous_output.astype(np.float32) - previous_input.astype(np.float32)
    moved = warp(detail, flow, mirror=True)
    return np.clip((frame.astype(np.float32) + blend * moved) / 255.0, 0.0, 1.0)


def video_frames(inputs: Iterable[np.ndarray], dream: FrameDreamer, coherence: Coherence, done: int = 0,
                 previous_output: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray, dict]]:
    """Dream a stream of uint8 input frames, yielding the frames from ``done`` on.

    The flow between consecutive input frames is computed in both modes: it
    carries the dream detail in flow mode and measures the flicker (the
    ``flicker`` fact of every frame after the first) in both.

    Args:
        inputs: the input frames from frame 0 (the first ``done`` are only
            read, to know the frame before ``done``).
        previous_output: the dreamed frame ``done - 1`` when resuming.
    """
    previous_input = None
    for index, frame in enumerate(inputs):
        if index < done:
            previous_input = frame
            continue
        flow = None if previous_input is None else backward_flow(previous_input, frame, coherence.method)
        if flow is not None and coherence.flow:
            start = carry_detail(frame, previous_input, previous_output, flow, coherence.blend)
            output = dream(start, index, coherence.iterations)
        else:
            output = dream(to_float(frame), index)
        facts = {} if flow is None else {"flicker": flicker(previous_output, output, flow),
                                         "input_flicker": flicker(previous_input, frame, flow)}
        yield index, output, facts
        previous_input, previous_output = frame, output


def render(frames: Iterable[tuple[int, np.ndarray, dict]], folder, total: int, done: int, seed: int,
           label_for: Callable[[int], str], progress: Callable[[FrameProgress], None] | None = None) -> int:
    """Write each yielded frame into ``folder`` (a FramesFolder); returns how many frames exist.

    Every frame's PNG records its index, seed, objective and facts.
    """
    started = time.perf_counter()
    rendered = 0
    for index, frame, facts in frames:
        folder.write(index, frame, {"frame": index, "seed": frame_seed(seed, index),
                                    "objective": label_for(index), **facts})
        rendered += 1
        if progress is not None:
            progress(FrameProgress(index + 1, total, rendered, time.perf_counter() - started))
    return done + rendered


def mean_fact(facts: Iterable[dict], key: str) -> float | None:
    """The mean of ``key`` over the frames that have it, or None."""
    values = [f[key] for f in facts if f.get(key) is not None]
    return float(np.mean(values)) if values else None
