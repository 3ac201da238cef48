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
