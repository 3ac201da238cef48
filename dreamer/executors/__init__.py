"""Who renders the jobs of a batch: this process, or a pool of workers elsewhere.

See ``dreamer.executors.base`` for the contract. The local executor is the
default; a distributed one is an optional extra and is never imported by the core.
"""

from dreamer.executors.base import Executor, Job, Outcome, WorkerFactory, run_job
from dreamer.executors.local import LocalExecutor

__all__ = ["Executor", "Job", "LocalExecutor", "Outcome", "WorkerFactory", "run_job"]
