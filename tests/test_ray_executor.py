"""The Ray executor: jobs rendered by actors on a local 2-CPU Ray instance.

One Ray instance serves the whole module (starting one costs seconds): the
first executor starts it and its ``close`` stops it at the end. The worker
factories below are pickled by value, since Ray's worker processes cannot
import a test module.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dreamer.batch import Batch, Manifest, find_inputs, make_recipe, plan_items, result_names
from dreamer.batch.worker import build_worker
from dreamer.errors import DreamerError, ImageError, ModelError
from dreamer.executors import Job, LocalExecutor, Outcome

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")


@dataclass(frozen=True)
class MarkingWorker:
    """Upper-cases the bytes; each call leaves ``<key>.<n>.<pid>`` in ``calls`` first (``/`` as ``~``).

    ``b"bad"`` is an unreadable input; ``slow_key``'s first call waits a while,
    so a test can kill the actor in the middle of it.
    """

    calls: str
    slow_key: str = ""

    def __call__(self):
        return self.render

    def render(self, job: Job) -> Outcome:
        calls, mark = Path(self.calls), job.key.replace("/", "~")
        attempt = len(list(calls.glob(f"{mark}.*"))) + 1
        (calls / f"{mark}.{attempt}.{os.getpid()}").touch()
        if job.data == b"bad":
            raise ImageError(f"{job.name}: cannot read image (truncated)")
        if job.key == self.slow_key and attempt == 1:
            time.sleep(30)
        if job.data == b"poison":  # takes its worker down every time, as an input that crashes a library would
            os.kill(os.getpid(), signal.SIGKILL)
        return Outcome(job.key, data=job.data.upper(), extra={"pid": os.getpid()})


@dataclass(frozen=True)
class MarkedBatchWorker:
    """The batch's own worker (``build_worker``), with ``marks`` noting (and slowing) each call first."""

    recipe: dict
    marks: MarkingWorker

    def __call__(self):
        from dreamer.batch.worker import build_worker

        worker, marks = build_worker(self.recipe), self.marks()

        def render(job: Job) -> Outcome:
            marks(job)
            return worker(job)

        return render


@dataclass(frozen=True)
class FailingSetup:
    def __call__(self):
        raise ModelError("no model named 'nonesuch' on this machine")


@dataclass(frozen=True)
class BrokenSetup:
    """A worker that cannot be built for a reason of the node's (a missing library, say)."""

    def __call__(self):
        raise RuntimeError("libcudnn.so.9: cannot open shared object file")


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
        key = path.name.rsplit(".", 2)[0].replace("~", "/")
        counts[key] = counts.get(key, 0) + 1
    return counts


def kill_when_started(marks: MarkingWorker, key: str) -> threading.Thread:
    """A thread that SIGKILLs the process that starts rendering ``key`` (as a lost machine would)."""

    def watch():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = list(Path(marks.calls).glob(f"{key.replace('/', '~')}.1.*"))
            if started:
                os.kill(int(started[0].name.rsplit(".", 1)[1]), signal.SIGKILL)
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
@pytest.mark.slow
def test_a_killed_worker_costs_one_retry_of_its_image(ray_owner, tmp_path, model_file):
    """A folder through the batch on 2 actors (tiny model), one actor SIGKILLed mid-image: every
    result once, a complete manifest, and the same bytes as the local executor renders."""
    from dreamer.executors.ray import RayExecutor

    recipe = tiny_recipe(model_file)
    write_folder(tmp_path / "in", 6)
    marks = marking(tmp_path, slow_key="b/3_tiny_conv3.png")
    killer = kill_when_started(marks, "b/3_tiny_conv3.png")
    with RayExecutor(MarkedBatchWorker(recipe, marks), workers=2) as executor:
        summary = folder_batch(tmp_path / "in", tmp_path / "out", recipe).run(executor)
    killer.join(1)
    assert (summary.rendered, summary.failed) == (6, [])
    records = [r for r in Manifest.open(tmp_path / "out").records if r["status"] == "done"]
    assert sorted(r["key"] for r in records) == sorted(set(r["key"] for r in records)) and len(records) == 6
    assert calls_per_key(marks) == {**{r["key"]: 1 for r in records}, "b/3_tiny_conv3.png": 2}
    assert {r["worker"].split("@")[0] for r in records} == {"w0", "w1"}
    with LocalExecutor(functools.partial(build_worker, recipe)) as local:
        folder_batch(tmp_path / "in", tmp_path / "local", recipe).run(local)
    for record in records:
        written = (tmp_path / "out" / record["output"]).read_bytes()
        assert hashlib.sha256(written).hexdigest() == record["output_sha256"]
        assert written == (tmp_path / "local" / record["output"]).read_bytes()


@needs_ray
def test_the_dream_command_renders_a_folder_on_ray_workers(ray_owner, runner, model_file, workdir):
    from dreamer.cli import main

    write_folder(workdir / "in", 4)
    args = ["--executor", "ray", "--workers", "2", "--model", str(model_file), "--layer", "conv3", "-i", "2",
            "--octaves", "1", "--seed", "3", "-r", "in", "-o", "out/"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "rendered 4, failed 0" in result.output and "per worker:" in result.output
    assert len([r for r in Manifest.open(workdir / "out").records if r["status"] == "done"]) == 4
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "already done (same inputs and settings): all 4 results" in again.output


def test_ray_workers_look_for_the_model_in_the_cache_dir_given(runner, model_file, workdir, monkeypatch):
    """--cache-dir reaches the workers (as an absolute path: a worker may start in another folder).

    The pool is a LocalExecutor running the factory the Ray actors would get, so no Ray is needed.
    """
    import dreamer.batch.worker as worker_module
    import dreamer.executors.ray as ray_module
    from dreamer.cli import main

    loaded = []

    def load_dreamer(settings, cache_dir=None, load=worker_module.load_dreamer):
        loaded.append(cache_dir)
        return load(settings, cache_dir)

    monkeypatch.setattr(worker_module, "load_dreamer", load_dreamer)
    monkeypatch.setattr(ray_module, "import_ray", lambda: None)
    monkeypatch.setattr(ray_module, "RayExecutor", lambda make_worker, address, workers: LocalExecutor(make_worker))
    write_folder(workdir / "in", 2)
    result = runner.invoke(main, ["--executor", "ray", "--cache-dir", "models", "--model", str(model_file),
                                  "--layer", "conv3", "-i", "1", "--octaves", "1", "-r", "in", "-o", "out/"])
    assert result.exit_code == 0, result.output
    assert "rendered 2, failed 0" in result.output
    assert loaded == [str(workdir / "models")]


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
def test_a_worker_that_crashes_while_starting_stops_the_batch_not_its_images(ray_owner):
    from dreamer.executors.ray import RayExecutor

    with RayExecutor(BrokenSetup(), workers=2) as executor:
        with pytest.raises(DreamerError, match="^a Ray worker could not start: RuntimeError: libcudnn.so.9: cannot"):
            list(executor.map([Job(f"k{i}", "in.png", b"x") for i in range(3)]))


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


@pytest.mark.parametrize("args, message", [
    (["--workers", "2", "in", "-o", "out/"], "--workers needs --executor ray"),
    (["--ray-address", "auto", "--workers", "2", "in", "-o", "out/"],
     "--ray-address and --workers need --executor ray"),
    (["--executor", "ray", "in/0.png", "-o", "one.png"], "--executor ray renders batches: give -o a folder"),
])
def test_ray_options_where_they_would_do_nothing_are_refused(runner, workdir, args, message):
    from dreamer.cli import main

    write_folder(workdir / "in", 1)
    result = runner.invoke(main, args)
    assert result.exit_code == 2 and message in result.output


def test_executor_ray_without_ray_says_what_to_install(runner, workdir, monkeypatch):
    from dreamer.cli import main

    write_folder(workdir / "in", 1)
    monkeypatch.setitem(sys.modules, "ray", None)
    result = runner.invoke(main, ["--executor", "ray", "in", "-o", "out/"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ['Error: the ray executor needs Ray: pip install "dreamer[ray]"']


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
        path = folder / "ab"[i % 2] / f"{i}.png"  # results: a/0_tiny_conv3.png, b/1_tiny_conv3.png, ...
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(path)
    return folder


def tiny_recipe(model_file) -> dict:
    return make_recipe(str(model_file), {"iterations": 2, "octaves": 1, "seed": 3}, layers=("conv3",),
                       precision="float32")


def folder_batch(folder: Path, out: Path, recipe: dict) -> Batch:
    found = find_inputs([str(folder)], recursive=True)
    return Batch(out, plan_items(found.inputs, result_names(found.inputs, "tiny", "conv3")), recipe)


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
