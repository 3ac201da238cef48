"""The executor contract: one outcome per job, input failures reported, not raised."""

import pytest

from dreamer.errors import ImageError
from dreamer.executors import Job, LocalExecutor, Outcome, run_job


def _make_upper_worker(built: list):
    built.append(1)

    def worker(job: Job) -> Outcome:
        if job.data == b"bad":
            raise ImageError(f"{job.name}: cannot read image (truncated)\nsecond line")
        return Outcome(job.key, data=job.data.upper())

    return worker


def test_local_executor_builds_one_worker_and_keeps_order():
    built = []
    jobs = [Job(f"k{i}", f"in{i}", b"ab", {"model": "m"}) for i in range(3)]
    with LocalExecutor(lambda: _make_upper_worker(built)) as executor:
        outcomes = list(executor.map(jobs))
    assert [o.key for o in outcomes] == ["k0", "k1", "k2"]
    assert all(o.ok and o.data == b"AB" for o in outcomes)
    assert built == [1]


def test_local_executor_builds_no_worker_for_no_jobs():
    built = []
    assert list(LocalExecutor(lambda: _make_upper_worker(built)).map([])) == []
    assert built == []


def test_input_failure_is_an_outcome_with_one_line():
    outcome = run_job(_make_upper_worker([]), Job("k", "x.png", b"bad"))
    assert not outcome.ok and outcome.data is None
    assert outcome.error == "x.png: cannot read image (truncated)"


def test_other_failures_propagate():
    def broken(job):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        run_job(broken, Job("k", "x", b""))


def test_tally_counts_each_workers_images_and_seconds():
    from dreamer.executors.tally import Tally, WorkerShare, shares_text

    outcomes = [Outcome("a", b"x", seconds=2.0, worker="w0@n1"), Outcome("b", b"x", seconds=4.0, worker="w0@n1"),
                Outcome("c", error="bad", seconds=1.0, worker="w1@n2")]

    class Replay:
        closed = False

        def map(self, jobs):
            return iter(outcomes)

        def close(self):
            Replay.closed = True

    with Tally(Replay()) as tally:
        assert list(tally.map([])) == outcomes
    assert Replay.closed
    assert tally.shares == {"w0@n1": WorkerShare(2, 6.0), "w1@n2": WorkerShare(1, 1.0)}
    assert shares_text(tally.shares) == ("  w0@n1: 2 images, 3.0 s each (20.0/min)\n"
                                         "  w1@n2: 1 image, 1.0 s each (60.0/min)")
