"""What to maximise: small, composable objective values.

An objective names the layers it needs (``layers``) and, called on a dict of
layer name -> activation tensor (NHWC), returns a scalar tensor. Objectives
add and scale: ``layer("mixed4c") + 0.5 * layer("mixed4d")``.

``parse_layer_spec`` turns the CLI's ``name`` or ``name=weight`` into one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from dreamer.errors import DreamerError

LOSSES = ("l2", "mean")


class Objective:
    """Base class: ``layers`` and ``__call__(activations) -> scalar``; supports + and *."""

    def layers(self) -> tuple[str, ...]:
        raise NotImplementedError

    def __call__(self, activations: Mapping[str, object]):
        raise NotImplementedError

    @property
    def name(self) -> str:
        raise NotImplementedError

    def terms(self) -> tuple[tuple[float, "Objective"], ...]:
        return ((1.0, self),)

    def __add__(self, other: "Objective") -> "Objective":
        return Sum(self.terms() + other.terms())

    def __mul__(self, weight: float) -> "Objective":
        return Sum(tuple((w * float(weight), o) for w, o in self.terms()))

    __rmul__ = __mul__

    def __neg__(self) -> "Objective":
        return self * -1.0

    def __sub__(self, other: "Objective") -> "Objective":
        return self + (-other)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=True)
class LayerObjective(Objective):
    """How strongly a whole layer fires.

    ``loss="l2"``: the mean of the squared activations (DeepDream's L2
    "interestingness"); ``loss="mean"``: the mean activation (the TensorFlow
    tutorial's choice).
    """

    layer: str
    loss: str = "l2"

    def layers(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, activations):
        import tensorflow as tf

        act = tf.cast(activations[self.layer], tf.float32)
        if self.loss == "mean":
            return tf.reduce_mean(act)
        return tf.reduce_mean(tf.square(act))

    @property
    def name(self) -> str:
        return self.layer if self.loss == "l2" else f"{self.layer}[{self.loss}]"


@dataclass(frozen=True, eq=True)
class Sum(Objective):
    """A weighted sum of objectives."""

    parts: tuple[tuple[float, Objective], ...]

    def layers(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for _, part in self.parts:
            for name in part.layers():
                seen.setdefault(name)
        return tuple(seen)

    def terms(self) -> tuple[tuple[float, Objective], ...]:
        return self.parts

    def __call__(self, activations):
        total = 0.0
        for weight, part in self.parts:
            total = total + weight * part(activations)
        return total

    @property
    def name(self) -> str:
        pieces = []
        for weight, part in self.parts:
            pieces.append(part.name if weight == 1.0 else f"{part.name}={weight:g}")
        return "+".join(pieces)


def layer(name: str, loss: str = "l2") -> LayerObjective:
    """The objective for a whole layer."""
    if loss not in LOSSES:
        raise DreamerError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return LayerObjective(name, loss)


def parse_layer_spec(text: str, loss: str = "l2") -> Objective:
    """``"block5c_add"`` or ``"block5c_add=0.5"`` -> an objective.

    Raises:
        DreamerError: an empty name or a weight that is not a finite number.
    """
    name, sep, weight_text = text.strip().partition("=")
    name = name.strip()
    if not name:
        raise DreamerError(f"bad layer {text!r}: expected NAME or NAME=WEIGHT")
    if not sep:
        return layer(name, loss)
    try:
        weight = float(weight_text)
    except ValueError:
        raise DreamerError(f"bad layer weight in {text!r}: {weight_text!r} is not a number") from None
    if not math.isfinite(weight):
        raise DreamerError(f"bad layer weight in {text!r}: must be a finite number")
    return weight * layer(name, loss)


def combine(specs: Sequence[str] | str | Mapping[str, float], loss: str = "l2") -> Objective:
    """Layers as the API and CLI accept them -> one objective.

    Args:
        specs: a layer name (or ``name=weight``), a list of them, or a dict of
            name -> weight.
    """
    if isinstance(specs, Objective):
        return specs
    if isinstance(specs, str):
        specs = [specs]
    if isinstance(specs, Mapping):
        parts = [float(w) * layer(n, loss) for n, w in specs.items()]
    else:
        parts = [parse_layer_spec(s, loss) for s in specs]
    if not parts:
        raise DreamerError("no layer given")
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total
