"""``ledgerflow.client.Client`` against a real server running real jobs."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clientkit import CHASE_CSV, EMAILS, PASSWORD, Live

from ledgerflow.client import (
    Backoff,
    Client,
    Conflict,
    Forbidden,
    Job,
    NotFound,
    Unauthorized,
    WaitTimeout,
)

FAST = Backoff(initial=0.05, factor=1.5, per_step=2, maximum=0.2)


@pytest.fixture
def alice(live: Live) -> Iterator[Client]:
    with Client(live.url, live.tokens["alice"], backoff=FAST) as client:
        yield client


def test_login(live: Live) -> None:
    with Client.login(live.url, EMAILS["alice"], PASSWORD) as client:
        assert client.list_jobs("acme", limit=1).jobs is not None
    with pytest.raises(Unauthorized) as caught:
        Client.login(live.url, EMAILS["alice"], "wrong")
    assert caught.value.status == 401 and "Wrong email or password" in str(caught.value.detail)


def test_upload_wait_result(live: Live, alice: Client) -> None:
    started = alice.upload_and_categorize("acme", CHASE_CSV, idempotency_key="chase-once")
    assert started.created and started.status == "pending"
    again = alice.upload_and_categorize("acme", CHASE_CSV, idempotency_key="chase-once")
    assert again.job_id == started.job_id and not again.created

    seen: list[Job] = []
    job = alice.wait(started.job_id, timeout=60, on_progress=seen.append)

    assert job.status == "complete", job.error
    assert job.type == "upload_and_categorize" and job.company_id == "acme"
    assert job.progress == 100 and job.finished_at is not None
    assert job.result["parsed"] == 15
    assert job.result["inserted"] + job.result["duplicates"] == 15  # others may import it too
    assert seen[-1] == job
    assert [j.progress for j in seen] == sorted(j.progress for j in seen)
    assert alice.get_job(job.id) == job


def test_events_iterator(live: Live, alice: Client) -> None:
    job_id = live.enqueue("t.count", n=100, pause=0.05)  # ~5 s: long enough to watch
    events = list(alice.events(job_id, timeout=30))
    kinds = [e.event for e in events]
    assert kinds[-1] == "complete" and set(kinds[:-1]) == {"progress"}
    assert len(events) >= 3
    revisions = [e.revision for e in events]
    assert all(r is not None for r in revisions) and revisions == sorted(set(revisions))  # type: ignore[type-var]
    assert events[-1].job.result == {"counted": 100}


class NoEventStreams(httpx.BaseTransport):
    """Refuses connections for event streams; records every other request."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[tuple[str, str | None, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            self.seen.append((request.url.path, None, 0))
            raise httpx.ConnectError("event streams are blocked here", request=request)
        response = self.inner.handle_request(request)
        self.seen.append(
            (request.url.path, request.headers.get("if-none-match"), response.status_code)
        )
        return response

    def close(self) -> None:
        self.inner.close()


def test_falls_back_to_polling_when_the_stream_fails(live: Live) -> None:
    transport = NoEventStreams()
    with Client(live.url, live.tokens["alice"], backoff=FAST, transport=transport) as client:
        job_id = live.enqueue("t.count", n=20, pause=0.05)
        seen: list[Job] = []
        job = client.wait(job_id, timeout=30, on_progress=seen.append)
    assert job.status == "complete" and job.result == {"counted": 20}
    assert transport.seen[0] == (f"/api/jobs/{job_id}/events", None, 0)
    polls = transport.seen[1:]
    assert polls[0][1] is None, "the first poll is unconditional"
    assert all(etag is not None for _, etag, _ in polls[1:]), "then If-None-Match every time"
    assert {status for _, _, status in polls} <= {200, 304}
    assert all(a != b for a, b in itertools.pairwise(seen)), "each change once"
    assert [j.progress for j in seen] == sorted(j.progress for j in seen)


def test_polling_only(live: Live, alice: Client) -> None:
    job_id = live.enqueue("t.count", n=5, pause=0.02)
    events = list(alice.events(job_id, timeout=30, sse=False))
    assert events[-1].event == "complete"
    assert all(e.revision is not None for e in events)


def test_cancel(live: Live, alice: Client) -> None:
    job_id = live.enqueue("t.sleep", seconds=30)
    try:
        for event in alice.events(job_id, timeout=10):
            if event.job.status == "running":
                break
        cancelled = alice.cancel(job_id)
        assert cancelled.id == job_id
        job = alice.wait(job_id, timeout=10)
        assert job.status == "cancelled"
    finally:
        live.queue.cancel(job_id)


def test_retry(live: Live, alice: Client) -> None:
    failed = alice.wait(live.enqueue("t.refuse"), timeout=20)
    assert failed.status == "failed" and failed.error == "The file has no amount column."
    again = alice.retry(failed.id)
    assert again.job_id != failed.id and again.created
    retried = alice.wait(again.job_id, timeout=20)
    assert retried.status == "failed" and retried.type == "t.refuse"
    done = alice.wait(live.enqueue("t.noop"), timeout=20)
    with pytest.raises(Conflict) as caught:
        alice.retry(done.id)
    assert caught.value.status == 409 and "complete" in str(caught.value.detail)


def test_wait_timeout(live: Live, alice: Client) -> None:
    job_id = live.enqueue("t.sleep", seconds=30)
    try:
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as caught:
            alice.wait(job_id, timeout=0.5)
        assert time.monotonic() - started < 3
        assert caught.value.job_id == job_id
        assert caught.value.job is None or caught.value.job.status in ("pending", "running")
    finally:
        live.queue.cancel(job_id)


def test_errors(live: Live, alice: Client) -> None:
    job_id = live.enqueue("t.noop")
    with Client(live.url, live.tokens["carol"], backoff=FAST) as carol:
        for attempt in (
            lambda: carol.get_job(job_id),
            lambda: carol.wait(job_id, timeout=5),
            lambda: carol.cancel(job_id),
            lambda: carol.list_jobs("acme"),
            lambda: carol.upload_and_categorize("acme", CHASE_CSV),
        ):
            with pytest.raises(NotFound) as caught:
                attempt()
            assert caught.value.status == 404
    with pytest.raises(NotFound) as missing:
        alice.get_job("job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D")
    assert missing.value.detail == "Job not found."
    with Client(live.url, live.tokens["bob"]) as bob:
        assert bob.get_job(job_id).id == job_id
        with pytest.raises(Forbidden):
            bob.categorize("acme")
    with Client(live.url, "not-a-token") as nobody, pytest.raises(Unauthorized):
        nobody.get_job(job_id)


def test_list_pages(live: Live, alice: Client) -> None:
    ids = [live.enqueue("t.noop") for _ in range(3)]
    alice.wait(ids[-1], timeout=20)
    first = alice.list_jobs("acme", type="t.noop", limit=2)
    assert len(first.jobs) == 2 and first.next_cursor is not None
    second = alice.list_jobs("acme", type="t.noop", limit=2, cursor=first.next_cursor)
    listed = [j.id for j in first.jobs + second.jobs]
    assert listed == sorted(listed, reverse=True)
    assert set(ids[1:]) <= set(listed)
    assert all(j.type == "t.noop" for j in first.jobs + second.jobs)


def test_categorize(live: Live, alice: Client) -> None:
    started = alice.categorize("acme", limit=10)
    job = alice.wait(started.job_id, timeout=60)
    assert job.status == "complete" and job.type == "categorize_transactions", job.error


def test_bulk_approve_export_and_download(live: Live, alice: Client, tmp_path: Path) -> None:
    alice.wait(alice.upload_and_categorize("acme", CHASE_CSV).job_id, timeout=60)
    approved = alice.wait(alice.bulk_approve("acme", min_confidence=0.0).job_id, timeout=60)
    assert approved.status == "complete", approved.error
    export = alice.wait(alice.export_qbo("acme", format="csv").job_id, timeout=60)
    assert export.status == "complete", export.error
    assert export.result["file_url"] == f"/api/jobs/{export.id}/file"
    download = alice.download_file(export.id)
    assert download.filename == export.result["file_name"] and download.content
    assert download.save(tmp_path).read_bytes() == download.content
    with pytest.raises(NotFound):
        alice.download_file(approved.id)
