"""One pass over the images: every chosen layer's activations, reduced to running sums.

For each batch the inputs and their partners (the transformed images, or
the second folder's images) go through the model in one call; each layer's
response then feeds its ``LayerRecord``: the sums behind invariance and
equivariance (``dreamer.probe.scores``) and the pooled and 2x2-grid features
a linear classifier is later trained on. With two classes there are no
partners; only the features are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from dreamer.probe.augment import variant
from dreamer.probe.features import ProbeLayer, grid, pooled
from dreamer.probe.inputs import load_batch
from dreamer.probe.scores import Change, Pairing, Spread
from dreamer.probe.transforms import Transform

#: progress(stage, done, total): stage is "features" (images x layers) or "classifier" (layers).
Progress = Callable[[str, int, int], None]


@dataclass
class LayerRecord:
    """What one pass keeps of one layer."""

    layer: ProbeLayer
    shape: tuple | None = None  # one response's shape, as seen
    pooled_spread: Spread = field(default_factory=Spread)
    map_spread: Spread = field(default_factory=Spread)
    pooled_change: Change = field(default_factory=Change)
    map_change: Change = field(default_factory=Change)
    halves: tuple[Pairing, Pairing] | None = None
    pooled: list = field(default_factory=list)
    grid: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    groups: list = field(default_factory=list)

    def add_pairs(self, first: np.ndarray, second: np.ndarray, images: np.ndarray, groups: np.ndarray,
                  transform: Transform | None, image_size: int) -> None:
        """A batch of responses to inputs (``first``) and their partners (``second``); ``images``: the inputs'
        positions in the list, ``groups``: their groups (kept together by the cross-validation)."""
        is_map = first.ndim == 4
        self.pooled_spread.add(pooled(first))
        self.pooled_change.add(pooled(first), pooled(second))
        if is_map:
            self.map_spread.add(first)
            self.map_change.add(first, second)
            self._add_pairing(first, second, images, transform, image_size)
        self._keep(first, np.zeros(len(first), int), groups)
        self._keep(second, np.ones(len(second), int), groups)

    def add_class(self, responses: np.ndarray, label: int, groups: np.ndarray) -> None:
        """A batch of responses to images of one class (0 or 1) and their groups."""
        self._keep(responses, np.full(len(responses), label), groups)

    def features(self, head: str) -> np.ndarray | None:
        """All rows of the ``"pooled"`` or ``"grid"`` features (None: the layer has no grid)."""
        rows = self.pooled if head == "pooled" else self.grid
        return np.concatenate(rows) if rows and rows[0] is not None else None

    def _add_pairing(self, first, second, images, transform, image_size) -> None:
        moved = None if transform is None else transform.maps(first, image_size)
        if moved is None or moved.shape != second.shape:
            return
        if self.halves is None:
            self.halves = (Pairing(first.shape[-1]), Pairing(first.shape[-1]))
        parity = (np.asarray(images) % 2).astype(bool)
        for half, chosen in zip(self.halves, (~parity, parity)):
            if chosen.any():
                half.add(moved[chosen], second[chosen])

    def _keep(self, responses: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> None:
        if self.shape is None:
            self.shape = tuple(int(d) for d in responses.shape[1:])
        self.pooled.append(pooled(responses).astype(np.float32))
        self.grid.append(grid(responses).astype(np.float32) if responses.ndim == 4 else None)
        self.labels.append(labels)
        self.groups.append(groups)


@dataclass(frozen=True)
class Plan:
    """How the images are read: square side, images per model call, variants per image, their seed, groups."""

    size: int
    batch_size: int
    groups: np.ndarray  # one group id per input (per image of both classes, in order)
    augment: int = 0
    seed: int = 0


def collect_pairs(features: Callable, layers: Sequence[ProbeLayer], first: Sequence, second: Sequence | None,
                  transform: Transform, plan: Plan, progress: Progress | None = None) -> list[LayerRecord]:
    """Records of every layer for inputs and partners: ``second[i]``, or ``transform`` of ``first[i]`` if None.

    With ``plan.augment``, each input also goes in as that many variants, each with its own partner (the
    transform of the variant, or the partner given the same change).
    """
    records = [LayerRecord(layer) for layer in layers]
    total = len(first) * (plan.augment + 1) * len(layers)
    done = 0
    for start in range(0, len(first), plan.batch_size):
        images = np.arange(start, min(start + plan.batch_size, len(first)))
        originals = load_batch(first[start:start + plan.batch_size], plan.size)
        partners = None if second is None else load_batch(second[start:start + plan.batch_size], plan.size)
        for number in range(plan.augment + 1):
            x = originals if number == 0 else variant(originals, images, number, plan.seed)
            y = (transform.images(x) if partners is None else
                 partners if number == 0 else variant(partners, images, number, plan.seed))
            responses = features(np.concatenate([x, y]))
            for record in records:
                response = responses[record.layer.name]
                record.add_pairs(response[:len(x)], response[len(x):], images, plan.groups[images], transform,
                                 plan.size)
                done += len(x)
                _report(progress, "features", done, total)
    return records


def collect_classes(features: Callable, layers: Sequence[ProbeLayer], classes: tuple[Sequence, Sequence], plan: Plan,
                    progress: Progress | None = None) -> list[LayerRecord]:
    """Records of every layer for two classes of images (features only), variants included."""
    records = [LayerRecord(layer) for layer in layers]
    items = [(item, label) for label, members in enumerate(classes) for item in members]
    total = len(items) * (plan.augment + 1) * len(layers)
    done = 0
    for start in range(0, len(items), plan.batch_size):
        chunk = items[start:start + plan.batch_size]
        images = np.arange(start, start + len(chunk))
        originals = load_batch([item for item, _ in chunk], plan.size)
        labels = np.array([label for _, label in chunk])
        for number in range(plan.augment + 1):
            x = originals if number == 0 else variant(originals, images, number, plan.seed)
            responses = features(x)
            for record in records:
                response = responses[record.layer.name]
                for label in (0, 1):
                    chosen = labels == label
                    if chosen.any():
                        record.add_class(response[chosen], label, plan.groups[images[chosen]])
                done += len(chunk)
                _report(progress, "features", done, total)
    return records


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)
