"""Each worker's share of a batch: images rendered and seconds per image.

``Tally`` wraps any executor and counts the outcomes that pass through it, so
a summary can say how fast each worker went (on a cluster, a slow machine
shows up here) without the batch knowing which executor ran it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from dreamer.executors.base import Executor, Job, Outcome


@dataclass
class WorkerShare:
    """What one worker did: images rendered (failed inputs included) and the seconds they took."""

    images: int = 0
    seconds: float = 0.0

    @property
    def per_minute(self) -> float | None:
        """Images per minute of the worker's own time; None before any time was counted."""
        return 60 * self.images / self.seconds if self.seconds > 0 else None


class Tally:
    """An executor that passes jobs to ``executor`` and counts each worker's outcomes."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self.shares: dict[str, WorkerShare] = {}

    def map(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        for outcome in self.executor.map(jobs):
            share = self.shares.setdefault(outcome.worker, WorkerShare())
            share.images += 1
            share.seconds += outcome.seconds
            yield outcome

    def close(self) -> None:
        self.executor.close()

    def __enter__(self) -> "Tally":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def shares_text(shares: dict[str, WorkerShare]) -> str:
    """One line per worker, ``  w0@node1: 12 images, 4.9 s each (12.2/min)``, busiest first."""
    lines = []
    for name, share in sorted(shares.items(), key=lambda item: (-item[1].images, item[0])):
        pace = share.per_minute
        each = f", {share.seconds / share.images:.1f} s each ({pace:.1f}/min)" if pace else ""
        lines.append(f"  {name}: {share.images} image{'s' if share.images != 1 else ''}{each}")
    return "\n".join(lines)
