"""/api/admin on both engines: 404 for everyone but admins; correct numbers on crafted rows."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import orjson
import pytest
from adminkit import AdminWorld, insert_jobs, insert_worker, job_row

from ledgerflow.api.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE


def iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def endpoints(job_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", "/api/admin/depth"),
        ("GET", "/api/admin/series"),
        ("GET", "/api/admin/series?window=day&type=t.work"),
        ("GET", "/api/admin/workers"),
        ("GET", "/api/admin/jobs/failed"),
        ("GET", "/api/admin/jobs/stuck"),
        ("GET", "/api/admin/jobs?company=acme&meta.file_name=a.csv"),
        ("GET", f"/api/admin/jobs/{job_id}"),
        ("POST", f"/api/admin/jobs/{job_id}/retry"),
        ("POST", f"/api/admin/jobs/{job_id}/cancel"),
        ("DELETE", "/api/admin/depth"),  # a wrong method is a 404 too, not a 405
        ("GET", "/api/admin/no-such-thing"),
    ]


def test_everyone_but_admins_gets_the_404_of_a_missing_path(admin_world: AdminWorld) -> None:
    (failed,) = insert_jobs(admin_world.queue, job_row(status="failed", error="boom"))
    client = admin_world.client
    missing = client.get("/api/no-such-path")
    assert missing.status_code == 404
    callers: dict[str, dict[str, str]] = {
        "anonymous": {},
        "owner": admin_world.auth("alice"),
        "viewer": admin_world.auth("bob"),
        "other company": admin_world.auth("carol"),
        "bad token": {"Authorization": "Bearer nope"},
    }
    for who, headers in callers.items():
        for method, path in endpoints(failed):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 404, (who, method, path, answer.text)
            assert answer.json() == missing.json() == {"detail": "Not Found"}
            assert answer.headers["content-type"] == missing.headers["content-type"]
    # A signed-in member's cookie session without the CSRF header: still just 404.
    client.post("/api/auth/session", data={"username": "alice@acme.test", "password": "secret-pw"})
    assert client.post(f"/api/admin/jobs/{failed}/retry").status_code == 404
    client.cookies.clear()
    # Nothing happened to the job.
    assert admin_world.queue.get(failed).status == "failed"
    assert len(admin_world.queue.list(company_id="acme").jobs) == 1
    # The admin's cookie session needs the CSRF header on writes, like everywhere else.
    client.post("/api/auth/session", data={"username": "root@ops.test", "password": "secret-pw"})
    assert client.get("/api/admin/depth").status_code == 200
    assert client.post(f"/api/admin/jobs/{failed}/retry").status_code == 403
    token = client.cookies[CSRF_COOKIE]
    answer = client.post(f"/api/admin/jobs/{failed}/retry", headers={CSRF_HEADER: token})
    assert answer.status_code == 202
    assert SESSION_COOKIE in client.cookies


def test_depth_counts_live_jobs_by_type_and_status(admin_world: AdminWorld) -> None:
    now = time.time()
    insert_jobs(
        admin_world.queue,
        *[job_row(task="t.import", status="pending", created_at=now - 50 - i) for i in range(3)],
        job_row(task="t.import", status="pending", run_at=now + 3600),  # scheduled
        # Under the per-company limit: counted with the others, and the oldest of them.
        job_row(task="t.import", status="pending", created_at=now - 70, concurrency_key="acme"),
        job_row(task="t.import", status="running"),
        job_row(task="t.export", status="running", queue="slow"),
        job_row(task="t.export", status="complete"),
        job_row(task="t.export", status="failed"),
    )
    body = admin_world.client.get("/api/admin/depth", headers=admin_world.auth()).json()
    assert (body["pending"], body["running"]) == (5, 2)
    rows = {(r["queue"], r["type"], r["status"]): r for r in body["rows"]}
    assert set(rows) == {
        ("default", "t.import", "pending"),
        ("default", "t.import", "running"),
        ("slow", "t.export", "running"),
    }
    pending = rows[("default", "t.import", "pending")]
    assert (pending["count"], pending["ready"]) == (5, 4)
    oldest = dt.datetime.fromisoformat(pending["oldest_run_at"]).timestamp()
    assert oldest == pytest.approx(now - 70, abs=0.01)


def finished(task: str, status: str, at: float, seconds: float, **fields: Any) -> dict[str, Any]:
    started = at - seconds
    return job_row(
        task=task, status=status, created_at=started - 1, started_at=started, finished_at=at,
        **fields,
    )  # fmt: skip


def test_series_per_minute_and_per_hour(admin_world: AdminWorld) -> None:
    now = time.time()
    ten = now - 600  # ten minutes ago: one minute bucket
    three_hours = now - 3 * 3600
    rows = [finished("t.fast", "complete", ten, 0.1 * (i + 1)) for i in range(20)]
    rows += [finished("t.fast", "failed", ten, 2.0) for _ in range(5)]
    rows += [finished("t.slow", "complete", three_hours, 40.0) for _ in range(4)]
    rows += [finished("t.slow", "cancelled", now - 30, 1.0)]
    rows += [finished("t.old", "complete", now - 3 * 86_400, 1.0)]  # outside every window
    insert_jobs(admin_world.queue, *rows)
    client, auth = admin_world.client, admin_world.auth()

    hour = client.get("/api/admin/series?window=hour", headers=auth).json()
    assert hour["bucket_seconds"] == 60 and len(hour["points"]) == 60
    starts = [dt.datetime.fromisoformat(p["start"]).timestamp() for p in hour["points"]]
    assert starts == sorted(starts) and starts[-1] <= now < starts[-1] + 60
    (busy,) = [p for p, s in zip(hour["points"], starts, strict=True) if s <= ten < s + 60]
    assert (busy["complete"], busy["failed"], busy["cancelled"]) == (20, 5, 0)
    assert busy["failure_rate"] == pytest.approx(5 / 25)
    # 20 runs of 0.1..2.0 s and 5 of 2.0 s: the median is about 1.3 s, p95 and p99 2.0 s.
    assert busy["p50"] == pytest.approx(1.3, rel=0.1)
    assert busy["p99"] == pytest.approx(2.0, rel=0.1)
    assert sum(p["complete"] + p["failed"] for p in hour["points"]) == 25
    assert sum(p["cancelled"] for p in hour["points"]) == 1
    assert hour["by_type"]["t.fast"]["failed"] == 5
    assert "t.old" not in hour["by_type"]

    day = client.get("/api/admin/series?window=day", headers=auth).json()
    assert day["bucket_seconds"] == 3600 and len(day["points"]) == 24
    assert sum(p["complete"] for p in day["points"]) == 24
    slow = day["by_type"]["t.slow"]
    assert (slow["complete"], slow["cancelled"]) == (4, 1)
    assert slow["p50"] == pytest.approx(40.0, rel=0.1)
    only = client.get("/api/admin/series?window=day&type=t.slow", headers=auth).json()
    assert sum(p["complete"] for p in only["points"]) == 4
    assert sum(p["failed"] for p in only["points"]) == 0


def test_workers_late_heartbeats_mark_their_jobs(admin_world: AdminWorld) -> None:
    now = time.time()
    queue = admin_world.queue
    insert_worker(queue, "wrk_ok", now - 0.1, host="alpha", pid=11)
    insert_worker(queue, "wrk_late", now - 60, host="beta", pid=22)
    insert_worker(queue, "wrk_gone", now - 60, stopped_at=now - 59)
    ok_job, late_job = insert_jobs(
        queue,
        job_row(status="running", worker_id="wrk_ok"),
        job_row(status="running", worker_id="wrk_late", lease_expires_at=now + 5),
    )
    body = admin_world.client.get("/api/admin/workers", headers=admin_world.auth()).json()
    workers = {w["id"]: w for w in body["workers"]}
    assert {w: workers[w]["state"] for w in workers} == {
        "wrk_ok": "ok",
        "wrk_late": "late",
        "wrk_gone": "stopped",
    }
    assert (workers["wrk_ok"]["host"], workers["wrk_ok"]["pid"]) == ("alpha", 11)
    assert workers["wrk_ok"]["jobs_in_hand"] == 1
    assert [j["id"] for j in workers["wrk_ok"]["jobs"]] == [ok_job]
    assert workers["wrk_ok"]["jobs"][0]["rescue_pending"] is False
    assert [j["id"] for j in workers["wrk_late"]["jobs"]] == [late_job]
    assert workers["wrk_late"]["jobs"][0]["rescue_pending"] is True
    assert workers["wrk_gone"]["jobs_in_hand"] == 0


def test_failed_and_stuck_jobs(admin_world: AdminWorld) -> None:
    now = time.time()
    meta = orjson.dumps({"file_name": "statement.csv"}).decode()
    queue = admin_world.queue
    old_failure, new_failure = insert_jobs(
        queue,
        job_row(status="failed", error="old", created_at=now - 300),
        job_row(
            status="failed", error="ValueError: bad row", traceback="Traceback...\nValueError",
            attempts=3, meta=meta, company_id="globex",
        ),
    )  # fmt: skip
    expired, overdue, overdue_keyed, _, _ = insert_jobs(
        queue,
        job_row(status="running", lease_expires_at=now - 5, worker_id="wrk_dead"),
        job_row(status="pending", created_at=now - 4000),
        job_row(status="pending", created_at=now - 3000, concurrency_key="acme"),
        job_row(status="pending", created_at=now - 10),  # due, but not for long
        job_row(status="running"),  # lease still good
    )
    client, auth = admin_world.client, admin_world.auth()
    failed = client.get("/api/admin/jobs/failed", headers=auth).json()
    assert [j["id"] for j in failed["jobs"]] == [new_failure, old_failure]
    top = failed["jobs"][0]
    assert (top["error"], top["traceback"], top["attempts"]) == (
        "ValueError: bad row",
        "Traceback...\nValueError",
        3,
    )
    assert top["meta"] == {"file_name": "statement.csv"} and top["company_id"] == "globex"
    page = client.get("/api/admin/jobs/failed?limit=1", headers=auth).json()
    assert [j["id"] for j in page["jobs"]] == [new_failure]
    cursor = page["next_cursor"]
    rest = client.get(f"/api/admin/jobs/failed?limit=1&cursor={cursor}", headers=auth).json()
    assert [j["id"] for j in rest["jobs"]] == [old_failure] and rest["next_cursor"] is None

    stuck = client.get("/api/admin/jobs/stuck", headers=auth).json()
    assert [j["id"] for j in stuck["expired"]] == [expired] and stuck["expired_total"] == 1
    assert stuck["expired"][0]["rescue_pending"] is True
    assert [j["id"] for j in stuck["overdue"]] == [overdue, overdue_keyed]
    assert stuck["overdue_total"] == 2
    sooner = client.get("/api/admin/jobs/stuck?overdue_after=5", headers=auth).json()
    assert sooner["overdue_total"] == 3
    first = client.get("/api/admin/jobs/stuck?limit=1", headers=auth).json()
    assert [j["id"] for j in first["overdue"]] == [overdue] and first["overdue_total"] == 2


def test_search_by_every_filter(admin_world: AdminWorld) -> None:
    now = time.time()
    queue = admin_world.queue

    def meta(**values: str) -> str:
        return orjson.dumps(values).decode()

    ids = insert_jobs(
        queue,
        job_row(created_at=now - 7200, task="t.import", meta=meta(file_name="statement.csv")),
        job_row(created_at=now - 3600, task="t.import", meta=meta(file_name="other.csv")),
        job_row(created_at=now - 1800, task="t.export", company_id="globex", status="failed"),
        job_row(created_at=now - 900, task="t.import", status="failed", meta=meta(user_id="u1")),
        job_row(created_at=now - 60, task="t.export", status="pending"),
    )
    client, auth = admin_world.client, admin_world.auth()

    def search(query: str) -> list[str]:
        answer = client.get(f"/api/admin/jobs?{query}", headers=auth)
        assert answer.status_code == 200, answer.text
        return [j["id"] for j in answer.json()["jobs"]]

    assert search("") == ids[::-1]  # newest first
    assert search(f"id={ids[2]}") == [ids[2]]
    assert search("company=globex") == [ids[2]]
    assert search("type=t.import") == [ids[3], ids[1], ids[0]]
    assert search("status=failed") == [ids[3], ids[2]]
    assert search("status=failed&type=t.import&company=acme") == [ids[3]]
    window = f"created_from={iso(now - 4000)}&created_to={iso(now - 1000)}"
    assert search(window.replace("+", "%2B")) == [ids[2], ids[1]]
    assert search("meta.file_name=statement.csv") == [ids[0]]
    assert search("meta=file_name%3Dstatement.csv") == [ids[0]]
    assert search("meta.user_id=u1&status=failed") == [ids[3]]
    assert search("meta.user_id=u2") == []
    first = client.get("/api/admin/jobs?limit=2", headers=auth).json()
    assert [j["id"] for j in first["jobs"]] == [ids[4], ids[3]]
    assert search(f"limit=2&cursor={first['next_cursor']}") == [ids[2], ids[1]]
    for bad in ("meta=novalue", "meta.bad-key=1", "status=paused", "limit=0", "company=a%00b"):
        assert client.get(f"/api/admin/jobs?{bad}", headers=auth).status_code == 422, bad


def test_retry_and_cancel(admin_world: AdminWorld) -> None:
    now = time.time()
    queue = admin_world.queue
    failed, pending, running, abandoned, done = insert_jobs(
        queue,
        job_row(status="failed", error="boom", args='{"n": 3}', meta='{"company_id": "acme"}'),
        job_row(status="pending"),
        job_row(status="running"),
        job_row(status="running", lease_expires_at=now - 1),
        job_row(status="complete"),
    )
    client, auth = admin_world.client, admin_world.auth()
    retried = client.post(f"/api/admin/jobs/{failed}/retry", headers=auth)
    assert retried.status_code == 202
    new = retried.json()
    assert new["id"] != failed and new["status"] == "pending"
    assert new["meta"]["retry_of"] == failed and new["args"] == {"n": 3}
    assert new["company_id"] == "acme"
    assert client.post(f"/api/admin/jobs/{pending}/retry", headers=auth).status_code == 409

    def cancel(job_id: str) -> dict[str, Any]:
        answer = client.post(f"/api/admin/jobs/{job_id}/cancel", headers=auth)
        assert answer.status_code == 202, answer.text
        return answer.json()  # type: ignore[no-any-return]

    assert cancel(pending)["status"] == "cancelled"
    flagged = cancel(running)
    assert (flagged["status"], flagged["cancel_requested"]) == ("running", True)
    ended = cancel(abandoned)
    assert (ended["status"], ended["finished_at"] is not None) == ("cancelled", True)
    assert cancel(done)["status"] == "complete"
    assert client.post(f"/api/admin/jobs/{pending}/retry", headers=auth).status_code == 202
    missing = client.post("/api/admin/jobs/job_nope/cancel", headers=auth)
    assert missing.status_code == 404 and missing.json() == {"detail": "Job not found."}
    assert client.get("/api/admin/jobs/job_nope", headers=auth).status_code == 404
    assert client.get(f"/api/admin/jobs/{failed}", headers=auth).json()["error"] == "boom"


def test_openapi_documents_the_admin_endpoints(admin_world: AdminWorld) -> None:
    paths = admin_world.client.get("/openapi.json").json()["paths"]
    admin = {p for p in paths if p.startswith("/api/admin")}
    assert admin == {
        "/api/admin/depth",
        "/api/admin/series",
        "/api/admin/workers",
        "/api/admin/jobs",
        "/api/admin/jobs/failed",
        "/api/admin/jobs/stuck",
        "/api/admin/jobs/{job_id}",
        "/api/admin/jobs/{job_id}/retry",
        "/api/admin/jobs/{job_id}/cancel",
    }
    search = paths["/api/admin/jobs"]["get"]
    (meta,) = [p for p in search["parameters"] if p["name"] == "meta"]
    assert meta["schema"]["examples"] == [["file_name=statement.csv"]]
