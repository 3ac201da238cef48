"""Moving dreams: the infinite zoom and dreamed videos, frame by frame.

The data flow, one module a stage:

    media.py     video files in and out: probe, stream frames, encode, audio
    flow.py      optical flow between input frames, warping, the flicker score
    zoom.py      one zoom step (scale, rotate, pan) of the previous frame
    schedule.py  which objective dreams which frame (``--layer-from``)
    state.py     the frames folder: numbered PNGs plus the settings that made
                 them, which is all a killed run needs to continue
    render.py    the loops: each frame from the previous one, dreamed by a
                 kept ``Dreamer`` (the model loads and compiles once)

Frames are uint8 HxWx3 arrays between the stages (what a PNG holds), so a
run resumed from the frames folder computes exactly what an uninterrupted
run does; each frame's seed is derived from the base seed and its index.
Frames are streamed: memory does not grow with the length of a video.
"""
