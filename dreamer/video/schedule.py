"""Which objective dreams which frame: a zoom that walks through the network.

A schedule is a list of (first frame, objective) entries. ``--layer A
--layer-from 100 B`` dreams frames 0-99 on A and frames from 100 on B. Each
objective gets its own ``Dreamer``, all sharing one loaded model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dreamer.errors import DreamerError

#: An objective as the CLI gives it: the ``--layer`` texts, summed (empty: the model's default layer).
ObjectiveSpec = tuple[str, ...]


@dataclass(frozen=True)
class Schedule:
    """Objectives by frame: ``entries`` are (first frame, objective spec), sorted, the first at frame 0."""

    entries: tuple[tuple[int, ObjectiveSpec], ...] = ((0, ()),)

    def objective_at(self, frame: int) -> ObjectiveSpec:
        """The objective spec in force at ``frame``."""
        current = self.entries[0][1]
        for first, spec in self.entries:
            if first <= frame:
                current = spec
        return current

    def as_list(self) -> list[list]:
        """A JSON-ready form, for the frames folder's settings."""
        return [[first, list(spec)] for first, spec in self.entries]


def make_schedule(layers: tuple[str, ...] | list[str], layer_from: tuple[tuple[int, str], ...] | list = ()) -> Schedule:
    """The schedule from ``--layer`` texts (from frame 0) and ``--layer-from N OBJECTIVE`` pairs.

    Several ``--layer-from`` with the same frame add up, as ``--layer`` does.

    Raises:
        DreamerError: a negative frame number, or a change at frame 0 that
            repeats ``--layer``.
    """
    changes: dict[int, list[str]] = {}
    for first, text in layer_from:
        if int(first) < 0:
            raise DreamerError(f"--layer-from {first}: frame numbers start at 0")
        if int(first) == 0 and layers:
            raise DreamerError("--layer-from 0 repeats --layer; give the first objective with --layer")
        changes.setdefault(int(first), []).append(text)
    entries = [(0, tuple(layers))] if 0 not in changes else []
    entries += [(first, tuple(texts)) for first, texts in sorted(changes.items())]
    return Schedule(tuple(entries))


class ScheduledDreamers:
    """One ``Dreamer`` per objective of a schedule, made when first needed, all on one model.

    Args:
        schedule: the objectives by frame.
        make: ``make(spec, adapter_or_None) -> Dreamer``; the first call gets
            None and loads the model, later calls get its adapter.
    """

    def __init__(self, schedule: Schedule, make: Callable):
        self.schedule = schedule
        self._make = make
        self._dreamers: dict[ObjectiveSpec, object] = {}

    def for_frame(self, frame: int):
        """The Dreamer of the objective in force at ``frame``."""
        spec = self.schedule.objective_at(frame)
        if spec not in self._dreamers:
            first = next(iter(self._dreamers.values()), None)
            self._dreamers[spec] = self._make(spec, None if first is None else first.adapter)
        return self._dreamers[spec]

    def prepare(self) -> None:
        """Build every objective's Dreamer now, so a bad layer is refused before any frame is made."""
        for first, _spec in self.schedule.entries:
            self.for_frame(first)
