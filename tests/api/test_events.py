"""Server-Sent Events over a real uvicorn, from start to the final event, and reconnecting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import jobtasks  # noqa: F401  (registers t.count, run by the app's in-process worker)
import pytest
from live import serve

from conftest import make_settings, seed
from ledgerflow.api.app import create_app
from ledgerflow.jobs import Queue


def events(response: httpx.Response) -> Iterator[tuple[str, str, str]]:
    """(id, event, data) for each SSE frame."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "event" in fields:
                yield fields.get("id", ""), fields["event"], fields.get("data", "")
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            fields[key] = value


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Queue]]:
    settings = make_settings(db_url, tmp_path)
    seed(db_url)
    with serve(create_app(settings, worker_threads=2)) as url:
        token = httpx.post(
            f"{url}/api/auth/token", data={"username": "alice@acme.test", "password": "secret-pw"}
        ).json()["access_token"]
        with Queue(db_url, settings=settings) as queue:
            yield url, {"Authorization": f"Bearer {token}"}, queue


def test_stream_from_start_to_final_event(live: tuple[str, dict[str, str], Queue]) -> None:
    url, auth, queue = live
    job = queue.enqueue("t.count", n=60, pause=0.02, meta={"company_id": "acme"})
    seen = []
    with httpx.stream("GET", f"{url}/api/jobs/{job.id}/events", headers=auth, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        seen = list(events(r))
    kinds = [kind for _, kind, _ in seen]
    assert kinds[-1] == "complete" and set(kinds[:-1]) == {"progress"}
    assert len(kinds) >= 3, "pending/running and some progress before the end"
    ids = [int(i) for i, _, _ in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert '"progress":100' in seen[-1][2] and '"counted":60' in seen[-1][2]


def test_reconnect_with_last_event_id_resumes(live: tuple[str, dict[str, str], Queue]) -> None:
    url, auth, queue = live
    job = queue.enqueue("t.count", n=80, pause=0.02, meta={"company_id": "acme"})
    with httpx.stream("GET", f"{url}/api/jobs/{job.id}/events", headers=auth, timeout=30) as r:
        first_id, _, _ = next(events(r))
    headers = {**auth, "Last-Event-ID": first_id}
    with httpx.stream("GET", f"{url}/api/jobs/{job.id}/events", headers=headers, timeout=30) as r:
        rest = list(events(r))
    assert all(int(i) > int(first_id) for i, _, _ in rest), "nothing replayed"
    assert rest[-1][1] == "complete"


def test_cancel_ends_the_stream(live: tuple[str, dict[str, str], Queue]) -> None:
    url, auth, queue = live
    job = queue.enqueue("t.count", n=100_000, pause=0.01, meta={"company_id": "acme"})
    with httpx.stream("GET", f"{url}/api/jobs/{job.id}/events", headers=auth, timeout=30) as r:
        stream = events(r)
        next(stream)
        assert httpx.post(f"{url}/api/jobs/{job.id}/cancel", headers=auth).status_code == 202
        last = list(stream)[-1]
    assert last[1] == "cancelled"
