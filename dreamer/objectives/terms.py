"""What to maximise: small, composable objective values.

An objective names the layers it needs (``layer_names()``) and, called on a dict of
layer name -> activation tensor, returns a scalar tensor. Objectives add,
subtract and scale: ``layer("mixed4c") + 0.5 * channel("mixed4d", 12)``.

The kinds:

- ``LayerObjective``: a whole layer (DeepDream);
- ``ChannelObjective``: some channels of a layer;
- ``NeuronObjective``: one channel at the centre of the whole image, whatever the tiling;
- ``ClassObjective``: the logit of one class of a classifier (the model's
  final, 2-D output, before any softmax);
- ``GuideObjective`` (in ``guide.py``): the image's features matched to a
  guide image's features at a layer (Google's 2015 notebook);
- ``Sum``: a weighted sum of the others.

``loss`` is how a layer, channel or neuron's activations become a number:
``"l2"`` the mean of their squares, ``"mean"`` their mean. ``None`` picks each
term's natural one: l2 for a whole layer (DeepDream), mean for channels and
neurons (so the sign matters: a channel is made to fire, not to swing). A
class is always its logit; a guide always its dot products.

Objectives parsed from text (``dreamer.objectives.grammar``) may be
*unbound*: a class named by text needs the model's labels. ``bind(objective,
adapter)`` checks every layer, channel and class against the model and
returns the objective ready to run.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from dreamer.errors import DreamerError, ModelError

LOSSES = ("l2", "mean")
#: The key under which the engine passes, beside the activations, where the network's input lies in the
#: whole image: a float32 tensor (top, left, input height, input width, image height, image width) in pixels.
#: Objectives that mean a position of the whole image (a neuron) read it; the others ignore it.
FRAME = "_frame"


class Objective:
    """Base class: ``layers`` and ``__call__(activations) -> scalar``; supports +, - and *."""

    def layer_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def __call__(self, activations: Mapping[str, object]):
        raise NotImplementedError

    @property
    def name(self) -> str:
        raise NotImplementedError

    def terms(self) -> tuple[tuple[float, "Objective"], ...]:
        return ((1.0, self),)

    def bind(self, adapter) -> "Objective":
        """This objective checked against ``adapter`` (see module ``bind``)."""
        for layer_name in self.layer_names():
            adapter.layer_info(layer_name)
        return self

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


def activation_loss(values, loss: str):
    """The mean (``"mean"``) or mean square (``"l2"``) of a tensor, as float32."""
    import tensorflow as tf

    values = tf.cast(values, tf.float32)
    if loss == "mean":
        return tf.reduce_mean(values)
    return tf.reduce_mean(tf.square(values))


def loss_suffix(loss: str, default: str) -> str:
    """How a term's name shows its loss: nothing for the term's default, else ``[loss]``."""
    return "" if loss == default else f"[{loss}]"


@dataclass(frozen=True, eq=True)
class LayerObjective(Objective):
    """How strongly a whole layer fires.

    ``loss="l2"``: the mean of the squared activations (DeepDream's L2
    "interestingness"); ``loss="mean"``: the mean activation (the TensorFlow
    tutorial's choice).
    """

    layer: str
    loss: str = "l2"

    def layer_names(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, activations):
        return activation_loss(activations[self.layer], self.loss)

    @property
    def name(self) -> str:
        return f"{self.layer}{loss_suffix(self.loss, 'l2')}"


@dataclass(frozen=True, eq=True)
class ChannelObjective(Objective):
    """Some channels of a layer, over every position: their mean (or mean square)."""

    layer: str
    channels: tuple[int, ...]
    loss: str = "mean"

    def layer_names(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, activations):
        import tensorflow as tf

        return activation_loss(tf.gather(activations[self.layer], list(self.channels), axis=-1), self.loss)

    def bind(self, adapter) -> Objective:
        check_channels(adapter, self.layer, self.channels)
        return self

    @property
    def name(self) -> str:
        return f"{self.layer}:{channel_list_text(self.channels)}{loss_suffix(self.loss, 'mean')}"


@dataclass(frozen=True, eq=True)
class NeuronObjective(Objective):
    """One channel at the feature-map position under the centre of the whole image.

    When the engine computes the gradient in tiles, it passes each tile's
    place in the image (``FRAME``); only the tile under the image's centre
    then scores, and its score is divided by the tile's share of the image
    (the engine weighs tiles by that share), so a neuron means one position
    of the whole image whatever the tiling. Without a frame, the centre is
    that of the feature map the network computed.
    """

    layer: str
    channel: int
    loss: str = "mean"

    def layer_names(self) -> tuple[str, ...]:
        return (self.layer,)

    def __call__(self, activations):
        import tensorflow as tf

        act = activations[self.layer]
        shape = tf.shape(act)
        frame = activations.get(FRAME)
        if frame is None:
            return activation_loss(act[:, shape[1] // 2, shape[2] // 2, self.channel], self.loss)
        top, left, height, width, image_height, image_width = tf.unstack(tf.cast(frame, tf.float32))
        row = tf.cast(tf.floor((image_height / 2 - top) * tf.cast(shape[1], tf.float32) / height), tf.int32)
        col = tf.cast(tf.floor((image_width / 2 - left) * tf.cast(shape[2], tf.float32) / width), tf.int32)
        inside = tf.logical_and(tf.logical_and(row >= 0, row < shape[1]), tf.logical_and(col >= 0, col < shape[2]))
        value = activation_loss(act[:, tf.clip_by_value(row, 0, shape[1] - 1),
                                    tf.clip_by_value(col, 0, shape[2] - 1), self.channel], self.loss)
        share = height * width / (image_height * image_width)
        return tf.where(inside, value / share, 0.0)

    def bind(self, adapter) -> Objective:
        check_channels(adapter, self.layer, (self.channel,))
        return self

    @property
    def name(self) -> str:
        return f"{self.layer}:{self.channel}@center{loss_suffix(self.loss, 'mean')}"


@dataclass(frozen=True, eq=True)
class ClassObjective(Objective):
    """The logit of one class: the model's final output (N x classes), pre-softmax.

    Made from text (``query``: a class name or index) it is unbound;
    ``bind`` finds the class among the model's labels and the model's
    output layer, or says which names come closest.
    """

    query: str
    index: int | None = None
    layer: str | None = None
    label: str | None = None

    def layer_names(self) -> tuple[str, ...]:
        if self.layer is None:
            raise DreamerError(f"class({self.query}) is not bound to a model yet")
        return (self.layer,)

    def __call__(self, activations):
        import tensorflow as tf

        logits = tf.cast(activations[self.layer], tf.float32)
        return tf.reduce_mean(logits[:, self.index])

    def bind(self, adapter) -> Objective:
        output = adapter.class_layer()
        labels = list(adapter.labels) if adapter.labels else None
        index, label = resolve_class(self.query, labels, output.channels, adapter.name)
        return ClassObjective(self.query, index, output.name, label)

    @property
    def name(self) -> str:
        return f"class({self.label if self.label is not None else self.query})"


@dataclass(frozen=True, eq=True)
class Sum(Objective):
    """A weighted sum of objectives."""

    parts: tuple[tuple[float, Objective], ...]

    def layer_names(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for _, part in self.parts:
            for name in part.layer_names():
                seen.setdefault(name)
        return tuple(seen)

    def terms(self) -> tuple[tuple[float, Objective], ...]:
        return self.parts

    def __call__(self, activations):
        total = 0.0
        for weight, part in self.parts:
            total = total + weight * part(activations)
        return total

    def bind(self, adapter) -> Objective:
        return Sum(tuple((weight, part.bind(adapter)) for weight, part in self.parts))

    @property
    def name(self) -> str:
        pieces = []
        for weight, part in self.parts:
            pieces.append(part.name if weight == 1.0 else f"{part.name}={weight:g}")
        return "+".join(pieces)


def _loss(loss: str | None, natural: str) -> str:
    if loss is None:
        return natural
    if loss not in LOSSES:
        raise DreamerError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return loss


def layer(name: str, loss: str | None = "l2") -> LayerObjective:
    """The objective for a whole layer (loss None: l2)."""
    return LayerObjective(name, _loss(loss, "l2"))


def channel(name: str, channels: int | Sequence[int], loss: str | None = None) -> ChannelObjective:
    """The objective for one or several channels of a layer (loss None: mean)."""
    chosen = (channels,) if isinstance(channels, int) else tuple(int(c) for c in channels)
    if not chosen:
        raise DreamerError(f"no channel given for layer {name!r}")
    if min(chosen) < 0:
        raise DreamerError(f"channel numbers count from 0; got {min(chosen)}")
    return ChannelObjective(name, tuple(dict.fromkeys(chosen)), _loss(loss, "mean"))


def neuron(name: str, channel_index: int, loss: str | None = None) -> NeuronObjective:
    """The objective for one channel at the centre of a layer's feature map (loss None: mean)."""
    if channel_index < 0:
        raise DreamerError(f"channel numbers count from 0; got {channel_index}")
    return NeuronObjective(name, int(channel_index), _loss(loss, "mean"))


def class_logit(query: str | int) -> ClassObjective:
    """The objective for a class's logit, by name or index; ``bind`` resolves it."""
    text = str(query).strip()
    if not text:
        raise DreamerError("empty class name")
    return ClassObjective(text)


def bind(objective: Objective, adapter) -> Objective:
    """``objective`` checked against ``adapter``: layers exist, channels fit, classes resolve.

    Raises:
        ModelError: an unknown layer (with the closest names), a channel out
            of range, an unknown class (with the closest names), or a class
            asked of a model without a class output.
    """
    return objective.bind(adapter)


def check_channels(adapter, layer_name: str, channels: Sequence[int]) -> None:
    info = adapter.layer_info(layer_name)
    bad = [c for c in channels if c >= info.channels]
    if bad:
        raise ModelError(
            f"channel {bad[0]} is out of range: {layer_name} has {info.channels} channels (0-{info.channels - 1})"
        )


def resolve_class(query: str, labels: Sequence[str] | None, count: int, model_name: str) -> tuple[int, str | None]:
    """A class name or index -> (index, label).

    Names match case-insensitively, with ``_`` and spaces alike.

    Raises:
        ModelError: an index out of range, or a name not among ``labels``
            (naming the closest ones).
    """
    if re.fullmatch(r"\d+", query):
        index = int(query)
        if index >= count:
            raise ModelError(f"class {index} is out of range: model {model_name!r} has {count} classes (0-{count - 1})")
        return index, labels[index] if labels and index < len(labels) else None
    if not labels:
        raise ModelError(f"model {model_name!r} has no class names; give a class index, or pass --labels FILE")

    def norm(text: str) -> str:
        return " ".join(text.replace("_", " ").lower().split())

    wanted = norm(query)
    normed = [norm(label) for label in labels]
    if wanted in normed:
        index = normed.index(wanted)
        return index, labels[index]
    close = difflib.get_close_matches(wanted, normed, n=5, cutoff=0.6)
    close += [n for n in normed if (wanted in n or n in wanted.split()) and n not in close]
    hint = f"; closest: {', '.join(labels[normed.index(c)] for c in close[:5])}" if close else ""
    raise ModelError(f"unknown class {query!r} in model {model_name!r}{hint}")


def channel_list_text(channels: Sequence[int]) -> str:
    """``(0, 1, 2, 3, 97)`` -> ``"0-3,97"``."""
    pieces, run_start, previous = [], None, None
    for c in list(channels) + [None]:
        if run_start is not None and (c is None or c != previous + 1):
            pieces.append(str(run_start) if previous == run_start else f"{run_start}-{previous}")
            run_start = None
        if c is not None and run_start is None:
            run_start = c
        previous = c
    return ",".join(pieces)
