"""``ledgerflow.client.AsyncClient`` against the same real server (each test runs its own loop)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from clientkit import CHASE_CSV, EMAILS, PASSWORD, Live

from ledgerflow.client import AsyncClient, Backoff, Job, NotFound, Unauthorized, WaitTimeout

FAST = Backoff(initial=0.05, factor=1.5, per_step=2, maximum=0.2)


def test_login_upload_wait(live: Live) -> None:
    async def main() -> tuple[Job, list[int]]:
        seen: list[int] = []

        async def on_progress(job: Job) -> None:
            seen.append(job.progress)

        async with await AsyncClient.login(live.url, EMAILS["alice"], PASSWORD) as client:
            started = await client.upload_and_categorize(
                "acme", CHASE_CSV.read_bytes(), file_name="chase.csv"
            )
            return await client.wait(started.job_id, timeout=60, on_progress=on_progress), seen

    job, seen = asyncio.run(main())
    assert job.status == "complete", job.error
    assert job.result["parsed"] == 15
    assert seen and seen[-1] == 100 and seen == sorted(seen)


def test_wrong_password(live: Live) -> None:
    with pytest.raises(Unauthorized):
        asyncio.run(AsyncClient.login(live.url, EMAILS["alice"], "nope"))


def test_events_async_iterator(live: Live) -> None:
    job_id = live.enqueue("t.count", n=100, pause=0.05)  # runs ~5 s: long enough to watch

    async def main() -> list[str]:
        async with AsyncClient(live.url, live.tokens["alice"]) as client:
            return [event.event async for event in client.events(job_id, timeout=30)]

    kinds = asyncio.run(main())
    assert kinds[-1] == "complete" and set(kinds[:-1]) == {"progress"} and len(kinds) >= 3


class NoEventStreams(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path.endswith("/events"):
            return httpx.Response(503, json={"detail": "no streams today"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_falls_back_to_polling(live: Live) -> None:
    job_id = live.enqueue("t.count", n=60, pause=0.05)  # ~3 s: several polls
    transport = NoEventStreams()

    async def main() -> Job:
        async with AsyncClient(
            live.url, live.tokens["alice"], backoff=FAST, transport=transport
        ) as client:
            return await client.wait(job_id, timeout=30)

    job = asyncio.run(main())
    assert job.status == "complete"
    assert transport.paths[0].endswith("/events")
    assert set(transport.paths[1:]) == {f"/api/jobs/{job_id}"} and len(transport.paths) > 2


def test_timeout_is_exact_on_a_quiet_stream(live: Live) -> None:
    job_id = live.enqueue("t.sleep", seconds=30)

    async def main() -> None:
        async with AsyncClient(live.url, live.tokens["alice"]) as client:
            await client.wait(job_id, timeout=0.3)

    try:
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            asyncio.run(main())
        assert time.monotonic() - started < 2
    finally:
        live.queue.cancel(job_id)


def test_other_company_is_not_found(live: Live) -> None:
    job_id = live.enqueue("t.noop")

    async def main() -> None:
        async with AsyncClient(live.url, live.tokens["carol"]) as carol:
            await carol.get_job(job_id)

    with pytest.raises(NotFound) as caught:
        asyncio.run(main())
    assert caught.value.status == 404 and caught.value.detail == "Job not found."
