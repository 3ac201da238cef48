"""The Ray executor: jobs rendered by actors on a local 2-CPU Ray instance.

One Ray instance serves the whole module (starting one costs seconds): the
first executor starts it and its ``close`` stops it at the end. The worker
factories below are pickled by value, since Ray's worker processes cannot
import a test module.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dreamer.errors import DreamerError, ImageError, ModelError
from dreamer.executors import Job, LocalExecutor, Outcome

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")


@dataclass(frozen=True)
class MarkingWorker:
    """Upper-cases the bytes; each call leaves ``<key>.<n>.<pid>`` in ``calls`` first.

    ``b"bad"`` is an unreadable input; ``slow_key``'s first call waits a while,
    so a test can kill the actor in the middle of it.
    """

    calls: str
    slow_key: str = ""

    def __call__(self):
        return self.render

    def render(self, job: Job) -> Outcome:
        calls = Path(self.calls)
        attempt = len(list(calls.glob(f"{job.key}.*"))) + 1
        (calls / f"{job.key}.{attempt}.{os.getpid()}").touch()
        if job.data == b"bad":
            raise ImageError(f"{job.name}: cannot read image (truncated)")
        if job.key == self.slow_key and attempt == 1:
            time.sleep(30)
        if job.data == b"poison":  # takes its worker down every time, as an input that crashes a library would
            os.kill(os.getpid(), signal.SIGKILL)
        return Outcome(job.key, data=job.data.upper(), extra={"pid": os.getpid()})


@dataclass(frozen=True)
class TinyDreamWorker:
    """Dreams 2 steps of the tiny test model on PNG bytes; returns PNG bytes."""

    model_path: str
    marks: MarkingWorker

    def __call__(self):
        from dreamer.api import Dreamer

        dreamer = Dreamer(self.model_path, "conv3", precision="float32")
        marks = self.marks()

        def render(job: Job) -> Outcome:
            marks(job)
            return Outcome(job.key, data=dream_png(dreamer, job.data))

        return render


def dream_png(dreamer, data: bytes) -> bytes:
    from PIL import Image

    from dreamer.engine import DreamConfig

    result = dreamer.dream(Image.open(io.BytesIO(data)), DreamConfig(iterations=2, octaves=1, seed=0))
    buffer = io.BytesIO()
    result.save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class FailingSetup:
    def __call__(self):
        raise ModelError("no model named 'nonesuch' on this machine")


@pytest.fixture(scope="module")
def ray_owner(tmp_path_factory):
    """An executor that started a local 2-CPU Ray instance; other executors join it."""
    pytest.importorskip("ray")
    from ray import cloudpickle

    from dreamer.executors.ray import RayExecutor

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    owner = RayExecutor(MarkingWorker(str(tmp_path_factory.mktemp("owner"))), workers=2, local_cpus=2)
    yield owner
    import ray

    owner.close()
    assert not ray.is_initialized(), "the executor that started Ray must stop it"


def marking(tmp_path, slow_key: str = "") -> MarkingWorker:
    calls = tmp_path / "calls"
    calls.mkdir(parents=True)
    return MarkingWorker(str(calls), slow_key)


def calls_per_key(marks: MarkingWorker) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in Path(marks.calls).iterdir():
        key = path.name.split(".")[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


def kill_when_started(marks: MarkingWorker, key: str) -> threading.Thread:
    """A thread that SIGKILLs the process that starts rendering ``key`` (as a lost machine would)."""

    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = list(Path(marks.calls).glob(f"{key}.1.*"))
            if started:
                os.kill(int(started[0].name.split(".")[2]), signal.SIGKILL)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@needs_ray
def test_every_job_once_and_a_bad_input_reported_not_retried(ray_owner, tmp_path):
    from dreamer.executors.ray import RayExecutor

    marks = marking(tmp_path)
    jobs = [Job(f"k{i}", f"in{i}.png", b"bad" if i == 3 else b"ab%d" % i) for i in range(8)]
    with RayExecutor(marks, workers=2) as executor:
        outcomes = {o.key: o for o in executor.map(jobs)}
    assert sorted(outcomes) == sorted(job.key for job in jobs)
    assert outcomes["k3"].error == "in3.png: cannot read image (truncated)"
    assert all(outcomes[f"k{i}"].data == b"AB%d" % i for i in range(8) if i != 3)
    assert calls_per_key(marks) == {job.key: 1 for job in jobs}
    assert {o.worker.split("@")[0] for o in outcomes.values()} <= {"w0", "w1"}


@needs_ray
def test_a_killed_worker_costs_one_retry_of_its_image(ray_owner, tmp_path, model_file):
    """A folder through 2 actors on the tiny model, one actor SIGKILLed mid-image:
    every result once, the same pixels as the local executor, a complete manifest."""
    from dreamer.executors.ray import RayExecutor

    folder = write_folder(tmp_path / "in", 6)
    marks = marking(tmp_path, slow_key="b-3")
    factory = TinyDreamWorker(str(model_file), marks)
    killer = kill_when_started(marks, "b-3")
    with RayExecutor(factory, workers=2) as executor:
        outcomes = write_results(executor.map(folder_jobs(folder)), tmp_path / "out")
    killer.join(1)
    assert sorted(outcomes) == sorted(job.key for job in folder_jobs(folder))
    assert calls_per_key(marks) == {**{job.key: 1 for job in folder_jobs(folder)}, "b-3": 2}
    manifest = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert sorted(entry["key"] for entry in manifest) == sorted(outcomes)
    with LocalExecutor(TinyDreamWorker(str(model_file), marking(tmp_path / "local"))) as local:
        expected = {o.key: o.data for o in local.map(folder_jobs(folder))}
    assert all((tmp_path / "out" / f"{key}.png").read_bytes() == expected[key] for key in outcomes)


@needs_ray
def test_an_input_that_kills_every_worker_is_reported_after_three_tries(ray_owner, tmp_path):
    from dreamer.executors.ray import MAX_ATTEMPTS, RayExecutor

    marks = marking(tmp_path)
    jobs = [Job("p", "poison.png", b"poison"), *(Job(f"k{i}", "x", b"x") for i in range(4))]
    with RayExecutor(marks, workers=2) as executor:
        outcomes = {o.key: o for o in executor.map(jobs)}
    assert outcomes["p"].error == f"poison.png: its Ray worker died {MAX_ATTEMPTS} times while rendering it"
    assert all(outcomes[f"k{i}"].data == b"X" for i in range(4))
    assert calls_per_key(marks) == {"p": MAX_ATTEMPTS, **{f"k{i}": 1 for i in range(4)}}


@needs_ray
def test_a_worker_that_cannot_start_stops_the_batch_with_one_line(ray_owner):
    from dreamer.executors.ray import RayExecutor

    with RayExecutor(FailingSetup(), workers=1) as executor:
        with pytest.raises(DreamerError, match="^a Ray worker could not start: no model named 'nonesuch'"):
            list(executor.map([Job("k", "in.png", b"x")]))


@needs_ray
def test_close_and_an_abandoned_batch_stop_the_actors(ray_owner, tmp_path):
    from dreamer.executors.ray import RayExecutor

    executor = RayExecutor(marking(tmp_path), workers=2)
    outcomes = executor.map(Job(f"k{i}", "x", b"x") for i in range(4))
    next(outcomes)
    pids = executor.actor_pids()
    outcomes.close()  # the caller stops early, as on Ctrl-C
    assert wait_until_gone(pids.values())
    list(executor.map([Job("again", "x", b"y")]))  # a new batch gets new actors
    pids = executor.actor_pids()
    executor.close()
    assert wait_until_gone(pids.values())


@needs_ray
def test_more_workers_than_the_cluster_can_hold_is_refused(ray_owner, tmp_path):
    from dreamer.executors.ray import RayExecutor

    with pytest.raises(DreamerError, match="^3 Ray workers need 3 CPUs; the cluster has 2$"):
        RayExecutor(marking(tmp_path), workers=3)


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    from dreamer.executors.ray import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(DreamerError, match=r'^the ray executor needs Ray: pip install "dreamer\[ray\]"$'):
        RayExecutor(FailingSetup())


def test_an_address_nobody_answers_is_a_quick_one_line_error():
    import socket

    from dreamer.executors.ray import check_reachable

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(DreamerError, match=f"^cannot reach the Ray cluster at {address}: Connection refused$"):
            check_reachable(address)
    check_reachable("auto")  # left to Ray


@pytest.mark.parametrize("resources, nodes, workers", [
    ({"CPU": 2}, 1, 1), ({"CPU": 64}, 4, 4), ({"CPU": 64, "GPU": 8}, 2, 8),
])
def test_default_workers_one_per_gpu_else_one_per_machine(resources, nodes, workers):
    from dreamer.executors.ray import default_workers

    assert default_workers(resources, nodes) == workers


def test_gpu_workers_need_a_gpu_each():
    from dreamer.executors.ray import check_room

    check_room(2, {"CPU": 16, "GPU": 2}, 1)
    with pytest.raises(DreamerError, match="need one GPU each; the cluster has 2"):
        check_room(3, {"CPU": 16, "GPU": 2}, 1)


def write_folder(folder: Path, count: int) -> Path:
    """``count`` small seeded PNGs in two sub-folders."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        path = folder / "ab"[i % 2] / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(path)
    return folder


def folder_jobs(folder: Path) -> list[Job]:
    return [Job(f"{path.parent.name}-{path.stem}", str(path), path.read_bytes())
            for path in sorted(folder.rglob("*.png"))]


def write_results(outcomes, out: Path) -> dict[str, Outcome]:
    """What a batch driver does: write each result and append a manifest line."""
    out.mkdir()
    seen: dict[str, Outcome] = {}
    with open(out / "manifest.jsonl", "a") as manifest:
        for outcome in outcomes:
            assert outcome.key not in seen, f"{outcome.key} came back twice"
            seen[outcome.key] = outcome
            (out / f"{outcome.key}.png").write_bytes(outcome.data)
            manifest.write(json.dumps({"key": outcome.key, "worker": outcome.worker}) + "\n")
    return seen


def wait_until_gone(pids, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
