"""Job endpoints through the real app over HTTP, on every engine."""

from __future__ import annotations

import io

import orjson
from fastapi.testclient import TestClient

from conftest import World, make_settings, seed
from ledgerflow.api.app import create_app
from ledgerflow.api.polls import JobPolls

CSV = (
    b"Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #\n"
    b"DEBIT,11/02/2026,STARBUCKS,-4.50,DEBIT_CARD,100.00,\n"
)


def upload(world: World, who: str = "alice", company: str = "acme", **headers: str):  # type: ignore[no-untyped-def]
    return world.client.post(
        "/api/jobs/upload-and-categorize",
        headers={**world.auth(who), **headers},
        data={"company_id": company},
        files={"file": ("chase.csv", io.BytesIO(CSV), "text/csv")},
    )


def test_token_required_and_checked(world: World) -> None:
    c = world.client
    assert c.get("/api/companies").status_code == 401
    assert c.get("/api/companies", headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = c.post("/api/auth/token", data={"username": "alice@acme.test", "password": "wrong"})
    assert bad.status_code == 401 and bad.json()["detail"]
    mine = c.get("/api/companies", headers=world.auth("alice")).json()
    assert mine == [{"id": "acme", "name": "Acme Inc", "role": "owner"}]


def test_start_job_then_read_it(world: World) -> None:
    answer = world.client.post(
        "/api/jobs/categorize",
        json={"company_id": "acme", "limit": 10},
        headers=world.auth("alice"),
    )
    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "pending" and body["job_id"].startswith("job_")
    job = world.client.get(f"/api/jobs/{body['job_id']}", headers=world.auth("alice"))
    assert job.status_code == 200
    data = job.json()
    assert set(data) == {
        "id",
        "type",
        "status",
        "progress",
        "message",
        "result",
        "error",
        "company_id",
        "created_at",
        "started_at",
        "finished_at",
        "attempts",
    }
    assert data["type"] == "categorize_transactions" and data["company_id"] == "acme"


def test_upload_is_accepted_and_stored(world: World) -> None:
    answer = upload(world)
    assert answer.status_code == 202, answer.text
    job = world.client.get(f"/api/jobs/{answer.json()['job_id']}", headers=world.auth("alice"))
    assert job.json()["type"] == "upload_and_categorize"
    stored = list((world.settings.upload_dir / "acme").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == CSV


def test_idempotency_key_returns_the_same_job(world: World) -> None:
    first = upload(world, **{"Idempotency-Key": "upload-1"})
    again = upload(world, **{"Idempotency-Key": "upload-1"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["job_id"] == first.json()["job_id"]
    other = upload(world, **{"Idempotency-Key": "upload-2"})
    assert other.json()["job_id"] != first.json()["job_id"]


def test_etag_gives_304_until_the_job_changes(world: World) -> None:
    job_id = upload(world).json()["job_id"]
    url, auth = f"/api/jobs/{job_id}", world.auth("alice")
    first = world.client.get(url, headers=auth)
    etag = first.headers["ETag"]
    unchanged = world.client.get(url, headers={**auth, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    world.client.post(f"{url}/cancel", headers=auth)
    changed = world.client.get(url, headers={**auth, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json()["status"] == "cancelled"


def test_polls_answered_before_routing_only_for_members(world: World) -> None:
    """The poll short cut (polls.py) answers members; everyone else gets the route's answer."""
    job_id = upload(world).json()["job_id"]
    url = f"/api/jobs/{job_id}"
    routed = world.client.get(url, headers=world.auth("alice"))
    etag = routed.headers["ETag"]
    world.client.get("/api/companies", headers=world.auth("carol"))  # carol's roles now cached
    shortcut = JobPolls(world.client.app)

    def scope(**headers: str) -> dict[str, object]:
        return {
            "type": "http",
            "method": "GET",
            "path": url,
            "app": world.client.app,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }

    member = scope(**world.auth("alice"), **{"If-None-Match": etag})
    unchanged = shortcut._answer(member)
    assert unchanged is not None and unchanged.status == 304 and unchanged.body == b""
    assert unchanged.headers["etag"] == etag
    full = shortcut._answer(scope(**world.auth("alice")))
    assert full is not None and full.status == 200 and full.headers["etag"] == etag
    assert orjson.loads(full.body) == routed.json()
    assert shortcut._answer(scope(**world.auth("carol"), **{"If-None-Match": etag})) is None
    assert shortcut._answer(scope(**{"If-None-Match": etag})) is None
    for who, status in (("alice", 304), ("bob", 304), ("carol", 404)):
        answer = world.client.get(url, headers={**world.auth(who), "If-None-Match": etag})
        assert answer.status_code == status
        assert answer.headers.get("ETag") == (etag if status == 304 else None)
    stranger = world.client.get(url, headers={"If-None-Match": etag})
    assert stranger.status_code == 401
    forged = world.client.get(url, headers={"Authorization": "Bearer x", "If-None-Match": etag})
    assert forged.status_code == 401
    world.client.post(f"{url}/cancel", headers=world.auth("alice"))
    changed = shortcut._answer(member)
    assert changed is not None and changed.status == 200
    assert orjson.loads(changed.body)["status"] == "cancelled"


def test_cancel_and_retry(world: World) -> None:
    job_id = upload(world).json()["job_id"]
    auth = world.auth("alice")
    cancelled = world.client.post(f"/api/jobs/{job_id}/cancel", headers=auth)
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    retried = world.client.post(f"/api/jobs/{job_id}/retry", headers=auth)
    assert retried.status_code == 202
    new_id = retried.json()["job_id"]
    assert new_id != job_id
    again = world.client.post(f"/api/jobs/{new_id}/retry", headers=auth)
    assert again.status_code == 409, "a pending job cannot be retried"


def test_history_lists_newest_first_with_cursor(world: World) -> None:
    ids = [upload(world).json()["job_id"] for _ in range(5)]
    auth = world.auth("alice")
    first = world.client.get("/api/jobs/company/acme?limit=3", headers=auth).json()
    second = world.client.get(
        f"/api/jobs/company/acme?limit=3&cursor={first['next_cursor']}", headers=auth
    ).json()
    listed = [j["id"] for j in first["jobs"] + second["jobs"]]
    assert listed == sorted(ids, reverse=True) and second["next_cursor"] is None
    typed = world.client.get(
        "/api/jobs/company/acme?type=categorize_transactions&status=pending", headers=auth
    ).json()
    assert typed["jobs"] == []
    bad = world.client.get("/api/jobs/company/acme?limit=0", headers=auth)
    assert bad.status_code == 422 and "limit" in str(bad.json()["detail"])


def test_viewer_reads_but_cannot_start_cancel_or_retry(world: World) -> None:
    job_id = upload(world).json()["job_id"]
    bob = world.auth("bob")
    assert world.client.get(f"/api/jobs/{job_id}", headers=bob).status_code == 200
    assert upload(world, who="bob").status_code == 403
    assert world.client.post(f"/api/jobs/{job_id}/cancel", headers=bob).status_code == 403
    assert world.client.post(f"/api/jobs/{job_id}/retry", headers=bob).status_code == 403
    started = world.client.post("/api/jobs/categorize", json={"company_id": "acme"}, headers=bob)
    assert started.status_code == 403


def test_another_company_sees_404_exactly_like_missing(world: World) -> None:
    job_id = upload(world).json()["job_id"]
    carol, c = world.auth("carol"), world.client
    missing = "job_01AAAAAAAAAAAAAAAAAAAAAAAA"
    for path in (f"/api/jobs/{job_id}", f"/api/jobs/{missing}"):
        answer = c.get(path, headers=carol)
        assert answer.status_code == 404 and answer.json() == {"detail": "Job not found."}
    for verb in ("cancel", "retry"):
        assert c.post(f"/api/jobs/{job_id}/{verb}", headers=carol).status_code == 404
    assert c.get(f"/api/jobs/{job_id}/events", headers=carol).status_code == 404
    assert c.get("/api/jobs/company/acme", headers=carol).status_code == 404
    assert upload(world, who="carol", company="acme").status_code == 404
    started = c.post("/api/jobs/categorize", json={"company_id": "acme"}, headers=carol)
    assert started.status_code == 404


def test_bad_input_names_the_field(world: World) -> None:
    auth = world.auth("alice")
    answer = world.client.post("/api/jobs/categorize", json={"limit": 5}, headers=auth)
    assert answer.status_code == 422 and "company_id" in str(answer.json()["detail"])
    wrong = world.client.post(
        "/api/jobs/categorize", json={"company_id": "acme", "limit": -1}, headers=auth
    )
    assert wrong.status_code == 422 and "limit" in str(wrong.json()["detail"])
    not_csv = world.client.post(
        "/api/jobs/upload-and-categorize",
        headers=auth,
        data={"company_id": "acme"},
        files={"file": ("x.png", io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00\x00"), "image/png")},
    )
    assert not_csv.status_code == 415 and "CSV" in not_csv.json()["detail"]


def test_bulk_approve_endpoint(world: World) -> None:
    c = world.client
    started = c.post(
        "/api/jobs/bulk-approve",
        json={"company_id": "acme", "min_confidence": 0.95},
        headers=world.auth("alice"),
    )
    assert started.status_code == 202 and started.json()["status"] == "pending"
    job = c.get(f"/api/jobs/{started.json()['job_id']}", headers=world.auth("alice")).json()
    assert job["type"] == "bulk_approve_transactions"
    neither = c.post(
        "/api/jobs/bulk-approve", json={"company_id": "acme"}, headers=world.auth("alice")
    )
    assert neither.status_code == 422 and "min_confidence" in str(neither.json()["detail"])
    body = {"company_id": "acme", "transaction_ids": ["txn_1"]}
    assert c.post("/api/jobs/bulk-approve", json=body, headers=world.auth("bob")).status_code == 403
    assert (
        c.post("/api/jobs/bulk-approve", json=body, headers=world.auth("carol")).status_code == 404
    )


def test_too_large_upload_is_413(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]

    settings = make_settings(db_url, tmp_path, max_upload_mb=0.01)
    seed(db_url)
    with TestClient(create_app(settings)) as client:
        token = client.post(
            "/api/auth/token", data={"username": "alice@acme.test", "password": "secret-pw"}
        ).json()["access_token"]
        big = CSV + b"DEBIT,11/02/2026,COFFEE,-1.00,DEBIT_CARD,1.00,\n" * 500
        answer = client.post(
            "/api/jobs/upload-and-categorize",
            headers={"Authorization": f"Bearer {token}"},
            data={"company_id": "acme"},
            files={"file": ("big.csv", io.BytesIO(big), "text/csv")},
        )
        assert answer.status_code == 413 and "MB" in answer.json()["detail"]
        assert not (settings.upload_dir / "acme").exists(), "nothing was stored"


def test_job_creation_is_rate_limited_with_retry_after(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]

    seed(db_url)
    with TestClient(create_app(make_settings(db_url, tmp_path, job_rate_limit=3))) as client:
        token = client.post(
            "/api/auth/token", data={"username": "alice@acme.test", "password": "secret-pw"}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        codes = [
            client.post("/api/jobs/categorize", json={"company_id": "acme"}, headers=auth)
            for _ in range(4)
        ]
        assert [c.status_code for c in codes] == [202, 202, 202, 429]
        assert int(codes[-1].headers["Retry-After"]) >= 1 and codes[-1].json()["detail"]
