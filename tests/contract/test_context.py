"""``JobContext.progress``: the in-memory side of progress, on a clock the test moves."""

from __future__ import annotations

import pytest

from ledgerflow.jobs import Cancelled, JobContext
from ledgerflow.jobs import context as context_module
from ledgerflow.jobs.context import PROGRESS_INTERVAL, AbortReason
from ledgerflow.jobs.models import Job, JobStatus


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(context_module.time, "monotonic", clock)
    return clock


def running_job() -> Job:
    return Job(
        id="job_test", task="t", queue="default", status=JobStatus.RUNNING, args={}, meta={},
        company_id="", progress=0, message=None, result=None, error=None, traceback=None,
        attempts=1, max_attempts=1, priority=0, timeout=60.0, run_at=0.0, created_at=0.0,
        started_at=0.0, finished_at=None, lease_expires_at=30.0, worker_id="w",
        idempotency_key=None, concurrency_key=None, concurrency_limit=None,
        cancel_requested=False, revision=1,
    )  # fmt: skip


def context(asks: list[float], clock: Clock) -> JobContext:
    return JobContext(running_job(), "w", lambda: asks.append(clock.now))


def test_progress_is_clamped_and_never_goes_back(clock: Clock) -> None:
    ctx = context([], clock)
    written = []
    for value in (40.9, 30, -5, 250, 99):
        ctx.progress(value)
        update = ctx.take_update(clock.now, force=True)
        written.append(update.progress if update else None)
    assert written == [40, None, None, 100, None]


def test_a_new_message_alone_is_written(clock: Clock) -> None:
    ctx = context([], clock)
    ctx.progress(10, "reading")
    assert ctx.take_update(clock.now, force=True) is not None
    ctx.progress(10, "reading")  # nothing new
    assert ctx.take_update(clock.now, force=True) is None
    ctx.progress(5, "writing")  # lower value, new message: the message goes, the value stays
    update = ctx.take_update(clock.now, force=True)
    assert update is not None and (update.progress, update.message) == (10, "writing")


def test_the_worker_is_asked_only_for_an_overdue_write_or_100(clock: Clock) -> None:
    asks: list[float] = []
    ctx = context(asks, clock)
    for i in range(1, 50):  # a tight loop inside the first interval: no write is due
        ctx.progress(i, f"{i}/100")
    assert asks == [] and ctx.take_update(clock.now) is None
    assert ctx.due_in(clock.now) == pytest.approx(PROGRESS_INTERVAL)
    clock.now += PROGRESS_INTERVAL
    for i in range(50, 60):  # due now: the worker, which waits for due_in, takes it
        ctx.progress(i)
    assert asks == [] and ctx.due_in(clock.now) == 0.0
    update = ctx.take_update(clock.now)
    assert update is not None and (update.progress, update.message) == (59, "49/100")
    assert ctx.take_update(clock.now) is None  # taken; the next is an interval away
    ctx.progress(60)
    assert asks == [] and ctx.due_in(clock.now) == pytest.approx(PROGRESS_INTERVAL)
    assert ctx.take_update(clock.now + PROGRESS_INTERVAL) is not None
    clock.now += 10  # a quiet spell: the next change is overdue at once, and asks once
    for i in range(61, 70):
        ctx.progress(i)
    assert asks == [clock.now]
    assert ctx.take_update(clock.now) is not None
    clock.now += 0.01
    ctx.progress(100, "done")  # 100 % does not wait for the interval
    assert asks[-1] == clock.now and len(asks) == 2
    update = ctx.take_update(clock.now)
    assert update is not None and (update.progress, update.message) == (100, "done")


def test_values_that_are_not_a_rise_change_nothing(clock: Clock) -> None:
    ctx = context([], clock)
    for value in (0.99, float("nan"), -1, 0):
        ctx.progress(value)
    assert ctx.take_update(clock.now, force=True) is None
    ctx.progress(float("inf"))
    update = ctx.take_update(clock.now, force=True)
    assert update is not None and update.progress == 100


def test_progress_raises_once_aborted(clock: Clock) -> None:
    ctx = context([], clock)
    ctx.progress(10)
    ctx.abort(AbortReason.CANCELLED)
    with pytest.raises(Cancelled, match="cancelled"):
        ctx.progress(20)
    with pytest.raises(Cancelled):
        ctx.check_cancelled()
