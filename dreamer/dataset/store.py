"""The activation cache: per image and layer, each channel's pooled mean, spatial maximum and its position.

What a forward pass leaves behind is small and enough for every question
``dream examples`` and ``dream report`` ask (rank by mean, patch at the
maximum, histograms), so it is kept for *every* channel of a layer and
asking for other channels later recomputes nothing.

Layout: ``<root>/<model key>/<size>px/<layer>/<shard>.npz``, a shard per
batch per layer, written atomically (an interrupted run loses at most the
batch in flight; a rerun computes only the images missing). A shard holds
``hashes`` (the images' content hashes), ``mean`` and ``peak`` (N x C
float32) and ``where`` (N x C x 2 int32, the row and column of the peak;
zeros for a 2-D layer). The key is the model's name and a hash of its
weights, the layer, the image's SHA-256 and the input size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from dreamer.fileio import atomic_path
from dreamer.outputs import safe_name


@dataclass(frozen=True)
class Stats:
    """Per image (rows) and channel (columns): pooled mean, spatial peak and its (row, col)."""

    hashes: np.ndarray
    mean: np.ndarray
    peak: np.ndarray
    where: np.ndarray


def model_key(name: str, weights: list[np.ndarray]) -> str:
    """``<name>-<first 12 hex of a hash of the weights>``: a changed network gets a fresh cache."""
    digest = hashlib.sha256()
    for array in weights:
        digest.update(np.ascontiguousarray(array).tobytes())
    return f"{safe_name(Path(name).name)}-{digest.hexdigest()[:12]}"


def reduce_map(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batch of a layer's output -> (mean, peak, where): N x C, N x C, N x C x 2.

    A 4-D map's mean and maximum over its rows and columns, with the
    (row, col) of the maximum (the first, in row-major order, on ties); a
    2-D output is its own mean and peak.
    """
    values = np.asarray(activations, dtype=np.float32)
    if values.ndim == 2:
        return values, values, np.zeros(values.shape + (2,), np.int32)
    batch, height, width, channels = values.shape
    flat = values.reshape(batch, height * width, channels)
    index = flat.argmax(axis=1)
    peak = np.take_along_axis(flat, index[:, None, :], axis=1)[:, 0, :]
    where = np.stack([index // width, index % width], axis=-1).astype(np.int32)
    return flat.mean(axis=1), peak, where


class ActivationStore:
    """The cache folder of one model at one input size: which images are done per layer, and their shards."""

    def __init__(self, root: Path, key: str, size: int):
        self.folder = Path(root) / key / f"{size}px"

    def layer_folder(self, layer: str) -> Path:
        return self.folder / safe_name(layer)

    def done(self, layer: str) -> set[str]:
        """The image hashes already stored for ``layer``."""
        found: set[str] = set()
        for shard in self._shards(layer):
            with np.load(shard) as data:
                found.update(str(h) for h in data["hashes"])
        return found

    def write(self, layer: str, stats: Stats) -> Path:
        """Store one batch's stats of ``layer`` as a new shard (atomically)."""
        folder = self.layer_folder(layer)
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256("".join(stats.hashes).encode()).hexdigest()[:20]
        final = folder / f"{name}.npz"
        with atomic_path(final) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, hashes=np.asarray(stats.hashes, dtype="U64"), mean=stats.mean, peak=stats.peak,
                         where=stats.where)
        return final

    def read(self, layer: str, wanted: dict[str, int]) -> Iterator[tuple[np.ndarray, Stats]]:
        """Shard by shard, the rows of the ``wanted`` images (hash -> image number) as (image numbers, Stats).

        Each wanted image is given once, even if stored twice.
        """
        seen: set[str] = set()
        for shard in self._shards(layer):
            with np.load(shard) as data:
                hashes = [str(h) for h in data["hashes"]]
                rows = [i for i, h in enumerate(hashes) if h in wanted and h not in seen]
                if not rows:
                    continue
                seen.update(hashes[i] for i in rows)
                stats = Stats(np.asarray([hashes[i] for i in rows]), data["mean"][rows], data["peak"][rows],
                              data["where"][rows])
            yield np.asarray([wanted[h] for h in stats.hashes], dtype=np.int64), stats

    def _shards(self, layer: str) -> list[Path]:
        folder = self.layer_folder(layer)
        return sorted(folder.glob("*.npz")) if folder.is_dir() else []
