"""Whether a map can be believed: deletion and insertion scores, and the model-randomisation check.

- ``deletion_insertion``: the target's probability (its score, for a
  non-class target, relative to the photo's) as the most attributed pixels
  are removed (set to black) or added (onto a blurred copy), in
  ``curve_steps`` steps; the area under each curve (Petsiuk et al. 2018).
  A faithful map has a low deletion and a high insertion area.
- ``randomisation_check``: the map's Spearman rank correlation with the same
  method's map on the network whose top weighted layers have their weights
  shuffled, cascading from the top (Adebayo et al. 2018). A map that depends
  on what the network learnt changes: a low correlation passes.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import numpy as np

from dreamer.attribution.arrays import blurred
from dreamer.errors import ModelError


def deletion_insertion(network, image: np.ndarray, heat: np.ndarray, steps: int) -> dict:
    """{"deletion": area, "insertion": area, "deletion_curve": [...], "insertion_curve": [...]}."""
    order = np.argsort(-heat.ravel(), kind="stable")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    start = blurred(image)
    deleted, inserted = [], []
    for fraction in fractions:
        chosen = np.zeros(heat.size, bool)
        chosen[order[: int(round(fraction * heat.size))]] = True
        chosen = chosen.reshape(heat.shape)[..., None]
        deleted.append(np.where(chosen, 0.0, image))
        inserted.append(np.where(chosen, image, start))
    curves = {"deletion": network.probability_batch(np.stack(deleted).astype(np.float32)),
              "insertion": network.probability_batch(np.stack(inserted).astype(np.float32))}
    if not network.target.is_class:
        reference = float(network.score_batch(image[None])[0])
        curves = {k: v / reference if reference > 0 else v for k, v in curves.items()}
    result = {name: area(curve) for name, curve in curves.items()}
    result.update({f"{name}_curve": [round(float(v), 5) for v in curve] for name, curve in curves.items()})
    return result


def area(curve: np.ndarray) -> float:
    """The area under a curve sampled at evenly spaced fractions of [0, 1] (trapezoids)."""
    curve = np.asarray(curve, np.float64)
    return float(((curve[:-1] + curve[1:]) / 2).mean()) if len(curve) > 1 else float(curve[0])


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation of two maps (None when either is constant)."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def weighted_layers(model) -> list:
    """The layers with weights, in network order, nested models opened."""
    found = []
    for layer in getattr(model, "layers", ()):
        if getattr(layer, "layers", None) and hasattr(layer, "inputs"):
            found.extend(weighted_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


@contextlib.contextmanager
def randomised_top(model, count: int, seed: int):
    """The ``count`` top weighted layers of ``model`` with each weight array's entries shuffled
    (same distribution, learnt structure gone), restored on exit. Yields their names."""
    layers = weighted_layers(model)[::-1][:count]
    saved = [layer.get_weights() for layer in layers]
    try:
        for depth, (layer, weights) in enumerate(zip(layers, saved)):
            rng = np.random.default_rng([seed, depth])
            layer.set_weights([rng.permutation(w.ravel()).reshape(w.shape) for w in weights])
        yield [layer.name for layer in layers]
    finally:
        for layer, weights in zip(layers, saved):
            layer.set_weights(weights)


def randomisation_check(model, heat: np.ndarray, remake: Callable[[], np.ndarray], cascade, seed: int) -> list[dict]:
    """For each depth of the cascade: the layers shuffled and the rank correlation of ``remake()``'s map
    (the same method on the shuffled network) with ``heat``. A map that can't be made is ``None``."""
    steps = []
    for count in cascade:
        with randomised_top(model, count, seed) as names:
            if not names or (steps and steps[-1]["layers"] == len(names)):
                break  # no (more) weighted layers to shuffle
            try:
                correlation = rank_correlation(heat, remake())
            except ModelError:
                correlation = None
        steps.append({"layers": len(names), "top_layer": names[0], "deepest_layer": names[-1],
                      "rank_correlation": correlation})
    return steps
