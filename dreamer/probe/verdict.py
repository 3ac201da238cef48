"""The one-line answer: down to which layer, and by which head, the two kinds of input can still be told apart.

Every head the probe fits is read (``HEADS``: a pooled head, global average
pooling then a dense layer; and a head that keeps a 2x2 layout), each
decodability with its ~95% Wilson interval over the images (an image and
its transform count once). At each layer a head is

- *decodable* when its accuracy reaches the threshold and the interval's
  lower end is above 50% (better than guessing, beyond doubt);
- *lost* when the interval's upper end is below the threshold (the data
  rule decodability out);
- *undecided* otherwise (too few images to tell).

The head that stays decodable deepest is named, with its interval; the
probed layer after that is where it is lost, or where the data cannot
decide. "No consistent orientation" is said only when no head is
decodable at any layer *and* every interval rules it out; with too few
images to rule it out the answer says the data cannot decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from dreamer.probe.decode import wilson_interval

#: (LayerScores field, short name, how the answer names the head).
HEADS = (
    ("decodability", "pooled", "a pooled head (global average pooling + dense)"),
    ("decodability_grid", "grid", "a head that keeps a 2x2 layout"),
)


@dataclass(frozen=True)
class Verdict:
    """The deepest decodable layer and its head, the probed layer after it, and the answer.

    ``decided`` is False when the data cannot tell whether the next layer
    (or, with no decodable layer, any layer) is decodable.
    """

    threshold: float
    decodable_to: str | None
    lost_at: str | None
    text: str
    head: str | None = None
    accuracy: float | None = None
    interval: tuple[float, float] | None = None
    decided: bool = True


@dataclass(frozen=True)
class Reading:
    """One head at one layer: where, how well, the interval, and what that means."""

    layer: str
    accuracy: float
    low: float
    high: float
    state: str  # "decodable", "lost" or "undecided"

    def says(self) -> str:
        return f"{self.accuracy:.0%}, 95% interval {self.low:.0%}-{self.high:.0%}"


def readings(layers: Sequence, field: str, threshold: float, images: int) -> list[Reading]:
    """A head's readings at the layers it applies to, in network order."""
    result = []
    for layer in layers:
        accuracy = getattr(layer, field)
        if accuracy is None:
            continue
        low, high = wilson_interval(accuracy, images)
        state = ("decodable" if accuracy >= threshold and low > 0.5 else
                 "lost" if high < threshold else "undecided")
        result.append(Reading(layer.name, accuracy, low, high, state))
    return result


def verdict(layers: Sequence, threshold: float, mode: str, labels: tuple[str, str], images: int) -> Verdict:
    """The answer for ``layers`` (LayerScores in network order) measured on ``images`` independent images."""
    what = f"{labels[0]} versus {labels[1]}"
    heads = {name: (title, readings(layers, field, threshold, images)) for field, name, title in HEADS}
    heads = {name: value for name, value in heads.items() if value[1]}
    if not heads:
        return Verdict(threshold, None, None, f"no layer could be scored for {what}")
    best = _deepest_head(heads)
    if best is None:
        return _nowhere(heads, threshold, mode, what, images)
    name, position = best
    title, reads = heads[name]
    chosen = reads[position]
    others = "".join(_other_head(heads[other]) for other in heads if other != name)
    base = dict(threshold=threshold, decodable_to=chosen.layer, head=name, accuracy=chosen.accuracy,
                interval=(chosen.low, chosen.high))
    by = f"by {title} ({chosen.says()}, {images} images)"
    if position == len(reads) - 1:
        return Verdict(lost_at=None, text=f"{what} stays decodable up to the last layer probed, `{chosen.layer}`, "
                                          f"{by}: a head on top of the network can tell them apart{others}", **base)
    after = reads[position + 1]
    advice = f"fine-tune from `{chosen.layer}` upward, or attach that head there"
    if after.state == "lost":
        return Verdict(lost_at=after.layer, text=f"{what} is decodable (>= {threshold:.0%}) up to `{chosen.layer}` "
                                                 f"{by} and lost from `{after.layer}` on ({after.says()}): "
                                                 f"{advice}{others}", **base)
    return Verdict(lost_at=after.layer, decided=False,
                   text=f"{what} is decodable (>= {threshold:.0%}) up to `{chosen.layer}` {by}; whether it is "
                        f"still decodable at `{after.layer}` the data cannot decide ({after.says()}: more images "
                        f"narrow it): {advice}{others}", **base)


def _deepest_head(heads: dict) -> tuple[str, int] | None:
    """(head, position of its deepest decodable reading); ties go to the better accuracy, then the simpler head."""
    best, best_key = None, None
    for rank, (name, (_, reads)) in enumerate(heads.items()):
        found = [i for i, read in enumerate(reads) if read.state == "decodable"]
        if not found:
            continue
        read = reads[found[-1]]
        key = (_position(heads, read.layer), read.accuracy, -rank)
        if best_key is None or key > best_key:
            best, best_key = (name, found[-1]), key
    return best


def _position(heads: dict, layer: str) -> int:
    """The network-order position of ``layer`` among all layers any head reads."""
    order = list(dict.fromkeys(read.layer for _, reads in heads.values() for read in reads))
    return order.index(layer)


def _other_head(head: tuple[str, list[Reading]]) -> str:
    """A clause on a head that is not the one named: how far it reaches, or why not at all."""
    title, reads = head
    found = [read for read in reads if read.state == "decodable"]
    if found:
        return f"; {title} reaches `{found[-1].layer}` ({found[-1].says()})"
    top = max(reads, key=lambda read: read.accuracy)
    if any(read.state == "undecided" for read in reads):
        return f"; {title} needs more images (best `{top.layer}`: {top.says()})"
    return f"; {title} cannot tell them apart at any layer (best `{top.layer}`: {top.says()})"


def _nowhere(heads: dict, threshold: float, mode: str, what: str, images: int) -> Verdict:
    """No head is decodable anywhere: decided (every interval rules it out) or not (too few images)."""
    reads = [read for _, head_reads in heads.values() for read in head_reads]
    top = max(reads, key=lambda read: read.accuracy)
    best = f"best: `{top.layer}`, {top.says()}, {images} images"
    if any(read.state == "undecided" for read in reads):
        return Verdict(threshold, None, None, decided=False,
                       text=f"{what}: the data cannot decide whether any layer decodes it (>= {threshold:.0%}; "
                            f"{best}); give more images (--augment can help a head learn from few)")
    hint = (" these images may have no consistent orientation for it, so decodability says nothing about the "
            "network here; invariance still does" if mode == "transform" else
            " a linear head on these layers cannot tell them apart")
    return Verdict(threshold, None, None,
                   f"{what} is not decodable (>= {threshold:.0%}) by any head at any probed layer ({best});{hint}")
