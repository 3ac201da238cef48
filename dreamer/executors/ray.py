"""Renders a batch's jobs on a pool of Ray actors, on this machine or a cluster.

Ray is an optional extra (``pip install "dreamer[ray]"``): it is imported only
when a ``RayExecutor`` is made, and the core never imports this module. Each
actor builds one worker from the factory (the model loads once per actor) and
renders the jobs it is sent, one at a time. A job's input bytes travel to the
actor and the result's bytes come back, so no shared file system is needed;
the batch on the driver writes every file.

Faults: an actor that dies (its process killed, its machine lost) is
replaced, and the job it held is sent again, at most ``MAX_ATTEMPTS`` times in
all. An input that fails for its own reasons comes back as an ``Outcome`` with
an error and is never sent again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from collections import deque
from typing import Any, Iterable, Iterator

from dreamer.errors import DreamerError
from dreamer.executors.base import Job, Outcome, Worker, WorkerFactory, run_job

#: How many times one job is sent to a worker before it is reported as failed.
MAX_ATTEMPTS = 3
INSTALL_HINT = 'the ray executor needs Ray: pip install "dreamer[ray]"'


def import_ray():
    """The ``ray`` module, or a one-line ``DreamerError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise DreamerError(INSTALL_HINT) from None
    return ray


class WorkerSetupError(DreamerError):
    """A worker could not be built (a model that is missing on a node, a bad setting)."""


class RenderActor:
    """Lives in a Ray worker process: builds one worker, then renders jobs with it.

    A ``DreamerError`` while building is kept and raised for every job, so the
    driver can stop the batch with the same one-line message.
    """

    def __init__(self, make_worker: WorkerFactory, name: str):
        self.name = f"{name}@{socket.gethostname()}"
        self._worker: Worker | None = None
        self._setup_error: str | None = None
        try:
            self._worker = make_worker()
        except DreamerError as exc:
            self._setup_error = first_line(exc)

    def render(self, job: Job) -> Outcome:
        if self._worker is None:
            raise WorkerSetupError(f"a Ray worker could not start: {self._setup_error}")
        outcome = run_job(self._worker, job, self.name)
        return dataclasses.replace(outcome, worker=self.name)

    def pid(self) -> int:
        return os.getpid()


@dataclasses.dataclass
class _Slot:
    """One place in the pool: a stable name and the actor currently filling it."""

    name: str
    actor: Any
    job: Job | None = None
    attempt: int = 0


class RayExecutor:
    """Renders jobs on ``workers`` Ray actors; outcomes come back as they finish.

    Args:
        make_worker: a picklable factory; each actor calls it once.
        address: a running cluster to join (``auto``, ``HOST:6379`` or
            ``ray://HOST:10001``); None starts a local Ray instance, stopped
            again by ``close``. If this process is already connected to Ray,
            that connection is used and left open.
        workers: how many actors; None means one per GPU on a cluster with
            GPUs, else one per machine (TensorFlow uses all of a machine's
            cores).
        local_cpus: CPUs of a local instance (None: all of this machine's).

    Raises:
        DreamerError: Ray is not installed, the cluster cannot be reached, or
            it has no room for that many workers.
    """

    def __init__(self, make_worker: WorkerFactory, address: str | None = None, workers: int | None = None,
                 local_cpus: int | None = None):
        self._ray = import_ray()
        self._make_worker = make_worker
        self._slots: list[_Slot] = []
        self._owns_ray = connect(self._ray, address, local_cpus)
        try:
            resources = self._ray.cluster_resources()
            self.gpus_per_worker = 1 if resources.get("GPU", 0) >= 1 else 0
            self.workers = workers or default_workers(resources, len(alive_nodes(self._ray)))
            check_room(self.workers, resources, self.gpus_per_worker)
        except BaseException:
            self.close()
            raise
        self._actor_class = self._ray.remote(RenderActor)
        self._replacements_left = self.workers * MAX_ATTEMPTS

    def map(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Yields one outcome per job, as each finishes (in any order)."""
        ray = self._ray
        jobs = iter(jobs)
        retries: deque[tuple[Job, int]] = deque()
        running: dict[Any, _Slot] = {}
        finished = False
        try:
            while True:
                self._hand_out(jobs, retries, running)
                if not running:
                    finished = True
                    return
                [ref], _ = ray.wait(list(running), num_returns=1)
                slot = running.pop(ref)
                outcome = self._collect(ref, slot, retries)
                slot.job = None
                if outcome is not None:
                    yield outcome
        finally:
            if not finished:
                self._stop_actors()  # Ctrl-C, an error, or the caller stopped early: nothing runs on

    def close(self) -> None:
        """Stops the actors, and the local Ray instance if this executor started it."""
        self._stop_actors()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def actor_pids(self) -> dict[str, int]:
        """Each worker's name -> the process id of its actor (for tests and diagnostics)."""
        refs = {slot.name: slot.actor.pid.remote() for slot in self._slots}
        return {name: self._ray.get(ref) for name, ref in refs.items()}

    def _hand_out(self, jobs: Iterator[Job], retries: deque, running: dict) -> None:
        """Gives every idle worker its next job: a retry first, else a new one."""
        if not self._slots:
            first = next(jobs, None)
            if first is None:
                return
            retries.append((first, 0))
            self._slots = [_Slot(f"w{i}", self._new_actor(f"w{i}")) for i in range(self.workers)]
        for slot in self._slots:
            if slot.job is not None:
                continue
            job, attempt = retries.popleft() if retries else (next(jobs, None), 0)
            if job is None:
                return
            slot.job, slot.attempt = job, attempt + 1
            running[slot.actor.render.remote(job)] = slot

    def _collect(self, ref, slot: _Slot, retries: deque) -> Outcome | None:
        """The outcome of a finished call; None when its worker was lost and the job goes round again."""
        from ray.exceptions import RayTaskError

        try:
            return self._ray.get(ref)
        except RayTaskError as exc:
            if isinstance(exc.cause, DreamerError):
                raise DreamerError(str(exc.cause)) from None
            raise
        except lost_worker_errors(self._ray) as exc:
            if getattr(exc, "actor_init_failed", False):  # building the worker raised: so would every retry
                raise DreamerError(f"a Ray worker could not start: {last_line(exc)}") from None
            self._replace(slot, first_line(exc))
            if slot.attempt >= MAX_ATTEMPTS:
                return Outcome(slot.job.key, error=f"{slot.job.name}: its Ray worker died {slot.attempt} times "
                               "while rendering it", worker=slot.name)
            retries.append((slot.job, slot.attempt))
            return None

    def _replace(self, slot: _Slot, reason: str) -> None:
        if self._replacements_left <= 0:
            raise DreamerError(f"Ray workers keep dying ({len(self._slots) * MAX_ATTEMPTS} lost); last: {reason}")
        self._replacements_left -= 1
        self._ray.kill(slot.actor, no_restart=True)
        slot.actor = self._new_actor(slot.name)

    def _new_actor(self, name: str):
        remote = self._actor_class.options(
            num_cpus=1, num_gpus=self.gpus_per_worker, max_restarts=0, max_task_retries=0,
            scheduling_strategy="SPREAD",
        )
        return remote.remote(self._make_worker, name)

    def _stop_actors(self) -> None:
        if self._ray.is_initialized():
            for slot in self._slots:
                self._ray.kill(slot.actor, no_restart=True)
        self._slots = []


def connect(ray, address: str | None, local_cpus: int | None) -> bool:
    """Joins ``address``, or starts a local instance; True when this call started Ray.

    A process already connected keeps its connection (and it is not ours to stop).
    """
    if ray.is_initialized():
        return False
    if address is not None:
        check_reachable(address)
    quiet = logging.getLogger("ray")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # start-up notices (token files, resource guesses) are not the user's business
    try:
        if address is None:  # Ray runs its workers at nice 15; here they are the work, as a local render is
            ray.init(address="local", num_cpus=local_cpus, include_dashboard=False, log_to_driver=False,
                     configure_logging=False, _system_config={"worker_niceness": 0})
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise DreamerError(f"cannot reach {where}: {first_line(exc)}") from None
    finally:
        quiet.setLevel(level)
    return True


def check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fails at once on a ``HOST:PORT`` (or ``ray://HOST:PORT``) that nothing answers.

    Ray itself would retry such an address for minutes; ``auto`` is left to Ray.
    """
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), seconds).close()
    except OSError as exc:
        raise DreamerError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def alive_nodes(ray) -> list[dict]:
    return [node for node in ray.nodes() if node.get("Alive")]


def default_workers(resources: dict, nodes: int) -> int:
    """One worker per GPU when the cluster has GPUs, else one per machine."""
    gpus = int(resources.get("GPU", 0))
    return gpus if gpus else max(1, nodes)


def check_room(workers: int, resources: dict, gpus_per_worker: int) -> None:
    """Refuses a pool the cluster could never place (its jobs would wait forever)."""
    cpus = int(resources.get("CPU", 0))
    gpus = int(resources.get("GPU", 0))
    if workers > cpus:
        raise DreamerError(f"{workers} Ray workers need {workers} CPUs; the cluster has {cpus}")
    if gpus_per_worker and workers > gpus:
        raise DreamerError(f"{workers} Ray workers need one GPU each; the cluster has {gpus}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def last_line(exc: BaseException) -> str:
    """The last line of a remote error's text: the exception that ended its traceback."""
    text = str(exc).strip()
    return text.splitlines()[-1].strip() if text else type(exc).__name__


def lost_worker_errors(ray) -> tuple[type[BaseException], ...]:
    """The errors that mean a worker (or its machine) was lost, not that the job failed."""
    exceptions = ray.exceptions
    names = ("RayActorError", "ActorUnavailableError", "WorkerCrashedError", "OutOfMemoryError",
             "ObjectLostError", "NodeDiedError")
    return tuple(getattr(exceptions, name) for name in names if hasattr(exceptions, name))
