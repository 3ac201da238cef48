"""Named input scalings: how a model wants its pixels.

Each scheme maps float32 images in [0, 1] (RGB, NHWC) to a model's input
range with ``keras.ops`` on any backend, so gradients flow through it.
"""

from __future__ import annotations

from typing import Callable

from dreamer.errors import ModelError

#: name -> (per-channel scale applied to 0-255 pixels' mean, std, channel order)
#: ``x_model = (x255[..., order] - mean) / std``
SCHEMES = {
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "rgb"),
    "unit": ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0), "rgb"),
    "tf": ((127.5, 127.5, 127.5), (127.5, 127.5, 127.5), "rgb"),
    "torch": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), "rgb"),
    "caffe": ((103.939, 116.779, 123.68), (1.0, 1.0, 1.0), "bgr"),
}


def affine(mean, std, order: str = "rgb") -> Callable:
    """A preprocessing function ``(x01 * 255 - mean) / std`` with channel order."""
    import numpy as np
    from keras import ops

    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)

    def preprocess(x01):
        x = x01 * 255.0
        if order == "bgr":
            x = ops.flip(x, axis=-1)
        return ops.divide(ops.subtract(x, mean), std)

    return preprocess


def parse_scheme(text: str) -> tuple:
    """A scheme name, or ``mean=R,G,B;std=R,G,B`` on the 0-255 scale -> (mean, std, order)."""
    text = text.strip()
    if text in SCHEMES:
        return SCHEMES[text]
    if text.startswith("mean="):
        try:
            fields = dict(part.split("=", 1) for part in text.split(";"))
            mean = _triple(fields["mean"])
            std = _triple(fields.get("std", "1,1,1"))
        except (KeyError, ValueError):
            raise ModelError(
                f"bad preprocessing {text!r}: expected e.g. 'mean=123.7,116.3,103.5;std=58.4,57.1,57.4'"
            ) from None
        if any(s == 0 for s in std):
            raise ModelError(f"bad preprocessing {text!r}: std must not be 0")
        return mean, std, "rgb"
    names = ", ".join(SCHEMES)
    raise ModelError(f"unknown preprocessing {text!r}; choose one of {names}, or mean=R,G,B;std=R,G,B")


def scheme(text: str) -> Callable:
    """The preprocessing function for a scheme name or a mean/std form."""
    return affine(*parse_scheme(text))


def _triple(text: str) -> tuple[float, float, float]:
    values = tuple(float(v) for v in text.split(","))
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise ValueError(text)
    return values
