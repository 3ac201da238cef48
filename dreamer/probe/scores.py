"""Invariance and equivariance of one layer, accumulated a batch at a time.

All scores are on one scale: 1 minus a mean squared distance divided by the
*spread*, the mean squared distance between the responses to two different
images. So 1 means the transform changes nothing, 0 means it changes the
response as much as swapping the image for another (and below 0, more).

- invariance: ``1 - E|f(Tx) - f(x)|^2 / spread``, on the spatially pooled
  activations and, for 4-D layers, on the whole maps;
- equivariance (4-D layers, spatial transforms): ``1 - E|f(Tx) - P T f(x)|^2
  / spread``, where T acts on the map and P re-pairs the channels (a flip
  often maps a detector onto its mirror-image twin). P is the assignment
  that minimises the error (``scipy.optimize.linear_sum_assignment`` on the
  channels' cross products); it is chosen on half of the images and scored
  on the other half, both ways, so re-pairing cannot flatter the score.

Only sums are kept (a sum vector of the map's size and a channels x channels
matrix), so memory does not grow with the number of images.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

#: A channel has found a partner when its best re-paired match is another channel with at least this correlation.
PARTNER_CORRELATION = 0.5


@dataclass
class Spread:
    """Running sums for the mean squared distance between different images' responses."""

    count: int = 0
    total: np.ndarray | float = 0.0
    squares: float = 0.0

    def add(self, responses: np.ndarray) -> None:
        flat = responses.reshape(len(responses), -1).astype(np.float64)
        self.count += len(flat)
        self.total = self.total + flat.sum(axis=0)
        self.squares += float((flat * flat).sum())

    def value(self) -> float:
        """Mean of |f_i - f_j|^2 over ordered pairs i != j (NaN with fewer than two images)."""
        n = self.count
        if n < 2:
            return float("nan")
        mean = np.asarray(self.total) / n
        return 2.0 * n / (n - 1) * (self.squares / n - float(mean @ mean))


@dataclass
class Change:
    """Running sum of |f(Tx) - f(x)|^2 and the number of images."""

    count: int = 0
    squares: float = 0.0

    def add(self, original: np.ndarray, changed: np.ndarray) -> None:
        diff = (changed.astype(np.float64) - original).reshape(len(original), -1)
        self.count += len(diff)
        self.squares += float((diff * diff).sum())

    def score(self, spread: float) -> float | None:
        if self.count == 0 or not spread > 0:
            return None
        return 1.0 - self.squares / self.count / spread


@dataclass
class Pairing:
    """Cross products between the channels of T f(x) (u) and of f(Tx) (v), for one half of the images."""

    channels: int
    count: int = 0
    positions: int = 0
    cross: np.ndarray = field(init=False)
    sum_u: np.ndarray = field(init=False)
    sum_v: np.ndarray = field(init=False)
    square_u: np.ndarray = field(init=False)
    square_v: np.ndarray = field(init=False)

    def __post_init__(self):
        c = self.channels
        self.cross = np.zeros((c, c))
        self.sum_u, self.sum_v = np.zeros(c), np.zeros(c)
        self.square_u, self.square_v = np.zeros(c), np.zeros(c)

    def add(self, moved: np.ndarray, changed: np.ndarray) -> None:
        u = moved.reshape(-1, self.channels)
        v = changed.reshape(-1, self.channels)
        self.count += len(moved)
        self.positions += len(u)
        self.cross += (u.T @ v).astype(np.float64)
        self.sum_u += u.sum(axis=0, dtype=np.float64)
        self.sum_v += v.sum(axis=0, dtype=np.float64)
        self.square_u += np.square(u, dtype=np.float64).sum(axis=0)
        self.square_v += np.square(v, dtype=np.float64).sum(axis=0)

    def merged(self, other: "Pairing") -> "Pairing":
        both = Pairing(self.channels)
        for name in ("count", "positions", "cross", "sum_u", "sum_v", "square_u", "square_v"):
            setattr(both, name, getattr(self, name) + getattr(other, name))
        return both

    def error(self, assignment: np.ndarray) -> float:
        """Sum over images of |v - P u|^2, where channel a of u is compared with channel ``assignment[a]`` of v."""
        matched = self.cross[np.arange(self.channels), assignment].sum()
        return float(self.square_u.sum() + self.square_v.sum() - 2.0 * matched)

    def correlations(self) -> np.ndarray:
        """Channels x channels correlation of u's channel a with v's channel b over images and positions."""
        n = max(self.positions, 1)
        mean_u, mean_v = self.sum_u / n, self.sum_v / n
        covariance = self.cross / n - np.outer(mean_u, mean_v)
        sd_u = np.sqrt(np.maximum(self.square_u / n - mean_u**2, 0.0))
        sd_v = np.sqrt(np.maximum(self.square_v / n - mean_v**2, 0.0))
        scale = np.outer(sd_u, sd_v)
        return np.divide(covariance, scale, out=np.zeros_like(covariance), where=scale > 1e-12)


def best_assignment(pairing: Pairing) -> np.ndarray:
    """The channel re-pairing that minimises ``pairing.error``: assignment[a] = the channel of v for u's a."""
    rows, cols = linear_sum_assignment(pairing.cross, maximize=True)
    assignment = np.empty(pairing.channels, dtype=int)
    assignment[rows] = cols
    return assignment


@dataclass(frozen=True)
class Equivariance:
    """Equivariance with and without re-pairing, and how many channels found a partner."""

    repaired: float | None
    identity: float | None
    partners: int | None


def equivariance(halves: tuple[Pairing, Pairing], spread: float) -> Equivariance:
    """Scores from two halves of the images: each half scored with the re-pairing chosen on the other."""
    first, second = halves
    if first.count == 0 or second.count == 0 or not spread > 0:
        return Equivariance(None, None, None)
    identity = np.arange(first.channels)
    count = first.count + second.count
    crossed = first.error(best_assignment(second)) + second.error(best_assignment(first))
    plain = first.error(identity) + second.error(identity)
    both = first.merged(second)
    assignment = best_assignment(both)
    match = both.correlations()[identity, assignment]
    partners = int(np.sum((assignment != identity) & (match >= PARTNER_CORRELATION)))
    return Equivariance(1.0 - crossed / count / spread, 1.0 - plain / count / spread, partners)
