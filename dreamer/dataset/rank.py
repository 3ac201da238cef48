"""Ranking images per channel with bounded memory: running top-k and running moments over cached shards.

``summarise`` reads a layer's cached stats shard by shard (``ActivationStore.read``)
and keeps, for every channel, the k images with the highest and lowest pooled
mean, the k highest spatial peaks with their positions (the patches), and the
sum and sum of squares of the pooled means (for the most active and most
selective channels). Memory is k x channels, whatever the number of images.
``choose_channels`` turns a ``ChannelChoice`` into channel numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamer.errors import DreamerError

#: ``ChannelChoice.kind`` values.
CHOICE_KINDS = ("list", "active", "selective")


@dataclass(frozen=True)
class ChannelChoice:
    """Which channels: ``list`` (the ``channels`` given), or the ``count`` most ``active`` or ``selective``."""

    kind: str = "active"
    channels: tuple[int, ...] = ()
    count: int = 8


class RunningTop:
    """The k best rows per column seen so far, best first (largest, or smallest with ``largest=False``).

    Ties keep the row seen first. ``ids`` are -1 where fewer than k rows came.
    """

    def __init__(self, k: int, columns: int, largest: bool = True):
        self.k, self.sign = k, 1.0 if largest else -1.0
        self.keys = np.full((columns, 0), -np.inf, np.float64)
        self.ids = np.zeros((columns, 0), np.int64)
        self.extra = np.zeros((columns, 0, 2), np.int32)

    def update(self, scores: np.ndarray, ids: np.ndarray, extra: np.ndarray | None = None) -> None:
        """Take a batch: ``scores`` B x C, ``ids`` B, ``extra`` B x C x 2 (kept beside each score)."""
        scores = np.asarray(scores, np.float64).T * self.sign
        extra = np.zeros(scores.shape + (2,), np.int32) if extra is None else np.transpose(extra, (1, 0, 2))
        keys = np.concatenate([self.keys, scores], axis=1)
        ids = np.concatenate([self.ids, np.broadcast_to(ids, scores.shape)], axis=1)
        extras = np.concatenate([self.extra, extra], axis=1)
        order = np.argsort(-keys, axis=1, kind="stable")[:, : self.k]
        self.keys = np.take_along_axis(keys, order, axis=1)
        self.ids = np.take_along_axis(ids, order, axis=1)
        self.extra = np.take_along_axis(extras, order[..., None], axis=1)

    def scores(self) -> np.ndarray:
        """C x k' scores, best first."""
        return self.keys * self.sign


@dataclass
class Summary:
    """A layer's running ranking: top and bottom images by pooled mean, top patches by peak, moments."""

    top: RunningTop
    bottom: RunningTop
    patches: RunningTop
    count: int = 0
    total: np.ndarray | None = None
    squares: np.ndarray | None = None

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per channel: the mean and standard deviation of the pooled means over the images."""
        mean = self.total / max(1, self.count)
        return mean, np.sqrt(np.maximum(self.squares / max(1, self.count) - mean**2, 0.0))


def summarise(store, layer: str, wanted: dict[str, int], k: int) -> Summary:
    """Stream the layer's cached stats of the ``wanted`` images (hash -> image number) into a Summary."""
    summary = None
    for ids, stats in store.read(layer, wanted):
        if summary is None:
            columns = stats.mean.shape[1]
            summary = Summary(RunningTop(k, columns), RunningTop(k, columns, largest=False), RunningTop(k, columns),
                              0, np.zeros(columns), np.zeros(columns))
        summary.top.update(stats.mean, ids)
        summary.bottom.update(stats.mean, ids)
        summary.patches.update(stats.peak, ids, stats.where)
        summary.count += len(ids)
        summary.total += stats.mean.sum(axis=0, dtype=np.float64)
        summary.squares += (stats.mean.astype(np.float64) ** 2).sum(axis=0)
    if summary is None:
        raise DreamerError(f"no activations of layer {layer!r} are stored for these images")
    return summary


def pooled_values(store, layer: str, wanted: dict[str, int], channels: list[int]) -> np.ndarray:
    """N x len(channels): each wanted image's pooled mean of the channels (rows in image-number order)."""
    out = np.zeros((len(wanted), len(channels)), np.float32)
    for ids, stats in store.read(layer, wanted):
        out[ids] = stats.mean[:, channels]
    return out


def choose_channels(summary: Summary, choice: ChannelChoice) -> list[int]:
    """The channels a ChannelChoice names: as listed, or the most active / selective first.

    Selectivity is how far the top images' mean stands above the rest, in
    standard deviations: (mean of the top m - mean) / std, where m is a tenth
    of the images (at least 1, at most the k kept).

    Raises:
        DreamerError: a listed channel out of range, or an unknown kind.
    """
    columns = summary.top.keys.shape[0]
    if choice.kind == "list":
        bad = [c for c in choice.channels if not 0 <= c < columns]
        if bad:
            raise DreamerError(f"channel {bad[0]} is out of range: the layer has {columns} channels (0-{columns - 1})")
        return list(choice.channels)
    mean, std = summary.moments()
    if choice.kind == "active":
        score = mean
    elif choice.kind == "selective":
        top = max(1, min(summary.top.keys.shape[1], summary.count // 10))
        score = (summary.top.scores()[:, :top].mean(axis=1) - mean) / (std + 1e-6)
    else:
        raise DreamerError(f"unknown channel choice {choice.kind!r}; choose {', '.join(CHOICE_KINDS)}")
    return [int(c) for c in np.argsort(-score, kind="stable")[: choice.count]]
