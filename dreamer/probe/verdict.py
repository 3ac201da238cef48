"""The one-line answer: down to which layer the two kinds of input can still be told apart.

The verdict reads the pooled decodability (what a head of global average
pooling and a dense layer sees) of the probed layers in network order: the
deepest layer at or above the threshold is where the difference is still
there, and the next probed layer is where it has been lost. If no layer
reaches the threshold, the answer says the images may not differ in a
consistent way (photos are as often one way round as the other), so
decodability says nothing about the network for them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence


@dataclass(frozen=True)
class Verdict:
    """The deepest still-decodable layer, the probed layer after it (where it is lost), and the answer."""

    threshold: float
    decodable_to: str | None
    lost_at: str | None
    text: str


#: Above this half-width of the chance band, the answer warns that there are few images.
FEW_IMAGES_BAND = 0.1


def verdict(layers: Sequence, threshold: float, mode: str, labels: tuple[str, str], chance: float = 0.0) -> Verdict:
    """The answer for ``layers`` (LayerScores in network order), with a warning when ``chance`` is wide."""
    answer = _answer(layers, threshold, mode, f"{labels[0]} versus {labels[1]}")
    if chance > FEW_IMAGES_BAND:
        answer = replace(answer, text=f"{answer.text} (few images: guessing alone reaches 50% +- {chance:.0%} here, "
                                      "so take the decodability with care)")
    return answer


def _answer(layers: Sequence, threshold: float, mode: str, what: str) -> Verdict:
    scored = [layer for layer in layers if layer.decodability is not None]
    reached = [i for i, layer in enumerate(scored) if layer.decodability >= threshold]
    if not scored:
        return Verdict(threshold, None, None, f"no layer could be scored for {what}")
    if not reached:
        best = max(scored, key=lambda layer: layer.decodability)
        hint = (" these images may have no consistent orientation for it, so decodability says nothing about "
                "the network here; invariance still does" if mode == "transform" else "")
        return Verdict(threshold, None, None,
                       f"{what} is not decodable (>= {threshold:.0%}) at any probed layer (best: `{best.name}`, "
                       f"{best.decodability:.0%});{hint or ' a linear head on these layers cannot tell them apart'}")
    deepest = scored[reached[-1]]
    if reached[-1] == len(scored) - 1:
        return Verdict(threshold, deepest.name, None,
                       f"{what} stays decodable up to the last layer probed (`{deepest.name}`: "
                       f"{deepest.decodability:.0%}): a head on top of the network can tell them apart")
    lost, last = scored[reached[-1] + 1], scored[-1]
    tail = "" if lost is last else f"; {last.decodability:.0%} at `{last.name}`"
    return Verdict(threshold, deepest.name, lost.name,
                   f"{what} is decodable (>= {threshold:.0%}) up to `{deepest.name}` ({deepest.decodability:.0%}) "
                   f"and below that from `{lost.name}` on ({lost.decodability:.0%}{tail}): fine-tune from "
                   f"`{deepest.name}` upward, or attach your head there")
