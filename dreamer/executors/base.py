"""The contract between a batch and whoever renders it.

The batch decides what is rendered and writes every file and the manifest; an
executor only turns jobs into outcomes. A job is plain, picklable data (the
input file's bytes and the settings as a JSON-able dict), never a TensorFlow
object, so it can cross a process or machine boundary, and no shared file
system is needed. A *worker* is a callable ``Job -> Outcome`` that holds a
loaded model; an executor builds it once per process from a picklable
*worker factory*, so a model is loaded once per worker, never once per image.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from dreamer.errors import DreamerError


@dataclass(frozen=True)
class Job:
    """One input to render.

    Attributes:
        key: unique within a batch (the result's path relative to the output
            folder is a good key); the outcome carries it back.
        name: the input as the user named it, for messages.
        data: the input file's bytes.
        settings: JSON-able settings; the model and objective settings are
            the same for every job a worker gets in one batch (the worker
            may rely on that to reuse its model), the seed may differ.
    """

    key: str
    name: str
    data: bytes
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What became of one job.

    Attributes:
        key: the job's key.
        data: the encoded result file, or None when the input failed.
        error: a one-line reason the input itself failed (a corrupt file, an
            image too small); such a job is reported, never retried.
        seconds: the time the worker spent on the job.
        worker: which worker rendered it ("local", or a worker's id).
        extra: anything else the worker reports (the seed used, sizes, ...).
        files: further files of the result, written beside it: name suffix
            (replacing the result's extension, e.g. ``"_map.npy"``) -> bytes.
    """

    key: str
    data: bytes | None = None
    error: str | None = None
    seconds: float = 0.0
    worker: str = "local"
    extra: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


#: A worker renders one job; it keeps its loaded model between calls.
Worker = Callable[[Job], Outcome]
#: A picklable zero-argument callable that builds a worker (loads the model).
WorkerFactory = Callable[[], Worker]


class Executor(Protocol):
    """Renders jobs. ``map`` yields exactly one outcome per job, in any order,
    as each finishes; ``close`` releases the workers (also on Ctrl-C)."""

    def map(self, jobs: Iterable[Job]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


def run_job(worker: Worker, job: Job, worker_name: str = "local") -> Outcome:
    """Run one job, turning the input's own failure into an outcome.

    A ``DreamerError`` (the user's input or settings) becomes an outcome with
    its one-line message; anything else (a bug, a lost worker, Ctrl-C)
    propagates, so the caller can retry or stop.
    """
    start = time.perf_counter()
    try:
        outcome = worker(job)
    except DreamerError as exc:
        return Outcome(job.key, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                       seconds=time.perf_counter() - start, worker=worker_name)
    return outcome
