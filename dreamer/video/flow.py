"""Optical flow between frames, warping along it, and the flicker score.

A flow here is *backward*: an HxWx2 float32 array that says, for every pixel
of the later frame, where (dx, dy) it was in the earlier frame, so that
``warp(earlier, flow)`` lines the earlier frame up with the later one. Frames
are uint8 HxWx3 RGB; images to warp are any HxWxC float32 array.
"""

from __future__ import annotations

import numpy as np

from dreamer.video.settings import FLOW_METHODS

#: Flow methods of OpenCV that ``backward_flow`` can use.


def backward_flow(earlier: np.ndarray, later: np.ndarray, method: str = "dis") -> np.ndarray:
    """Where each pixel of ``later`` came from in ``earlier``: HxWx2 float32 (dx, dy).

    Args:
        earlier, later: uint8 HxWx3 RGB frames of the same size.
        method: ``"dis"`` (OpenCV's dense inverse search, medium preset) or
            ``"farneback"``.
    """
    import cv2

    later_gray = cv2.cvtColor(later, cv2.COLOR_RGB2GRAY)
    earlier_gray = cv2.cvtColor(earlier, cv2.COLOR_RGB2GRAY)
    if method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(later_gray, earlier_gray, None, 0.5, 4, 21, 3, 5, 1.1, 0)
    elif method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(later_gray, earlier_gray, None)
    else:
        raise ValueError(f"unknown flow method {method!r}; choose from {', '.join(FLOW_METHODS)}")
    return flow.astype(np.float32, copy=False)


def sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The absolute sampling coordinates (x, y) that a backward flow points to."""
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray, mirror: bool = False) -> np.ndarray:
    """``image`` (float32 HxWxC) moved along a backward flow; outside it, edges are replicated (or mirrored)."""
    import cv2

    map_x, map_y = sample_maps(flow)
    border = cv2.BORDER_REFLECT if mirror else cv2.BORDER_REPLICATE
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=border)
    return warped.reshape(image.shape)


def inside(flow: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """HxW bool: the pixels whose flow points inside the earlier frame (not new at an edge)."""
    height, width = flow.shape[:2]
    map_x, map_y = sample_maps(flow)
    return (map_x >= margin) & (map_x <= width - 1 - margin) & (map_y >= margin) & (map_y <= height - 1 - margin)


def flicker(previous: np.ndarray, current: np.ndarray, flow: np.ndarray) -> float:
    """The mean absolute change (0-255 scale) from ``previous`` to ``current`` once motion is compensated.

    ``previous`` is warped along ``flow`` (the input frames' flow); only
    pixels that were inside the previous frame count. Both frames are uint8
    HxWx3. A still scene that doesn't change scores 0.
    """
    warped = warp(previous.astype(np.float32), flow)
    change = np.abs(current.astype(np.float32) - warped).mean(axis=-1)
    valid = inside(flow)
    return float(change[valid].mean()) if valid.any() else 0.0
