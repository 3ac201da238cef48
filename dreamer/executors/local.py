"""The default executor: every job in this process, one after another."""

from __future__ import annotations

from typing import Iterable, Iterator

from dreamer.executors.base import Job, Outcome, Worker, WorkerFactory, run_job


class LocalExecutor:
    """Renders jobs in order in this process, with one worker built on first use.

    Args:
        make_worker: builds the worker (loads the model) once, on the first job.
    """

    def __init__(self, make_worker: WorkerFactory):
        self._make_worker = make_worker
        self._worker: Worker | None = None

    def map(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        for job in jobs:
            if self._worker is None:
                self._worker = self._make_worker()
            yield run_job(self._worker, job)

    def close(self) -> None:
        self._worker = None

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
