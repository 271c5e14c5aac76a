"""The bookkeeping flow over HTTP with real workers: upload, review, approve, export, download."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from conftest import World

BANKS = Path(__file__).parent.parent / "data" / "banks"


def wait(world: World, job_id: str, who: str = "alice") -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = world.client.get(
            f"/api/jobs/{job_id}", headers=world.auth(who)
        ).json()
        if job["status"] in ("complete", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def start(world: World, path: str, **body: Any) -> str:
    answer = world.client.post(path, json=body, headers=world.auth("alice"))
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


def test_upload_review_approve_export_download(busy_world: World) -> None:
    w, alice = busy_world, busy_world.auth("alice")
    with (BANKS / "chase_checking.csv").open("rb") as f:
        answer = w.client.post(
            "/api/jobs/upload-and-categorize",
            headers=alice,
            data={"company_id": "acme"},
            files={"file": ("chase_checking.csv", f, "text/csv")},
        )
    imported = wait(w, answer.json()["job_id"])
    assert imported["status"] == "complete", imported["error"]
    assert imported["result"]["inserted"] == 15 and imported["result"]["je_created"] == 15

    page = w.client.get("/api/companies/acme/transactions?limit=100", headers=alice).json()
    assert len(page["transactions"]) == 15
    txn = page["transactions"][0]
    accounts = w.client.get("/api/companies/acme/accounts", headers=alice).json()
    meals = next(a for a in accounts if a["name"] == "Meals")
    patched = w.client.patch(
        f"/api/transactions/{txn['id']}", json={"account_id": meals["id"]}, headers=alice
    )
    assert patched.status_code == 200
    assert patched.json()["transaction"]["method"] == "manual"
    review = w.client.get("/api/companies/acme/transactions?needs_review=true", headers=alice)
    assert review.status_code == 200

    approved = wait(w, start(w, "/api/jobs/bulk-approve", company_id="acme", min_confidence=0))
    assert approved["status"] == "complete" and approved["result"]["approved"] == 15

    exported = wait(w, start(w, "/api/jobs/export-qbo", company_id="acme", format="iif"))
    assert exported["status"] == "complete", exported["error"]
    result = exported["result"]
    assert result["exported"] == 15 and result["file_url"].endswith("/file")
    assert "file_path" not in result, "server paths stay private"
    download = w.client.get(result["file_url"], headers=w.auth("bob"))
    assert download.status_code == 200 and download.content.startswith(b"!TRNS")
    assert w.client.get(result["file_url"], headers=w.auth("carol")).status_code == 404
    entries = w.client.get("/api/companies/acme/journal-entries", headers=alice).json()
    assert {e["status"] for e in entries["journal_entries"]} == {"posted"}


def test_quickbooks_connection_endpoints(busy_world: World) -> None:
    w = busy_world
    status = w.client.get("/api/companies/acme/quickbooks", headers=w.auth("bob"))
    assert status.status_code == 200 and status.json()["connected"] is False
    connect = w.client.post("/api/companies/acme/quickbooks/connect", headers=w.auth("alice"))
    assert connect.status_code == 409 and "QBO_CLIENT_ID" in connect.json()["detail"]
    assert (
        w.client.post("/api/companies/acme/quickbooks/connect", headers=w.auth("bob")).status_code
        == 403
    )
    assert (
        w.client.get("/api/companies/acme/quickbooks", headers=w.auth("carol")).status_code == 404
    )


def test_receipt_ocr_job_and_reads(busy_world: World) -> None:
    from ledgerflow.books.receipts import samples

    w, alice = busy_world, busy_world.auth("alice")
    pdf = samples.text_pdf(
        [
            "BLUE BOTTLE COFFEE",
            "300 Webster St, Oakland CA",
            "11/02/2026 09:14",
            "Latte 6.00",
            "SUBTOTAL 6.00",
            "TAX 0.50",
            "TOTAL $6.50",
        ]
    )
    answer = w.client.post(
        "/api/jobs/ocr",
        headers={**alice, "Idempotency-Key": "rcpt-1"},
        data={"company_id": "acme"},
        files={"file": ("latte.pdf", pdf, "application/pdf")},
    )
    assert answer.status_code == 202, answer.text
    again = w.client.post(
        "/api/jobs/ocr",
        headers={**alice, "Idempotency-Key": "rcpt-1"},
        data={"company_id": "acme"},
        files={"file": ("latte.pdf", pdf, "application/pdf")},
    )
    assert again.status_code == 200 and again.json()["job_id"] == answer.json()["job_id"]
    job = wait(w, answer.json()["job_id"])
    assert job["status"] == "complete", job["error"]
    listed = w.client.get("/api/companies/acme/receipts", headers=alice).json()["receipts"]
    assert len(listed) == 1, "the repeated request left no second receipt"
    receipt = listed[0]
    assert receipt["total_cents"] == 650 and receipt["job_id"] == job["id"]
    detail = w.client.get(f"/api/receipts/{receipt['id']}", headers=w.auth("bob")).json()
    assert "BLUE BOTTLE" in (detail["raw_text"] or "").upper()
    image = w.client.get(detail["image_url"], headers=alice)
    assert image.status_code == 200 and image.content == pdf
    assert (
        w.client.get(f"/api/receipts/{receipt['id']}", headers=w.auth("carol")).status_code == 404
    )
    not_image = w.client.post(
        "/api/jobs/ocr",
        headers=alice,
        data={"company_id": "acme"},
        files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert not_image.status_code == 415 and "JPEG" in not_image.json()["detail"]


def test_failed_receipt_says_why(busy_world: World) -> None:
    import io

    from PIL import Image

    w, alice = busy_world, busy_world.auth("alice")
    blank = io.BytesIO()
    Image.new("RGB", (600, 800), "white").save(blank, format="PNG")
    answer = w.client.post(
        "/api/jobs/ocr",
        headers=alice,
        data={"company_id": "acme"},
        files={"file": ("blank.png", blank.getvalue(), "image/png")},
    )
    assert answer.status_code == 202, answer.text
    job = wait(w, answer.json()["job_id"])
    receipt = w.client.get("/api/companies/acme/receipts", headers=alice).json()["receipts"][0]
    assert receipt["status"] == "failed" and "No text was found" in receipt["error"], receipt
    assert job["status"] == "failed" and job["error"] == receipt["error"], job
    detail = w.client.get(f"/api/receipts/{receipt['id']}", headers=alice).json()
    assert detail["error"] == receipt["error"] and not detail["raw_text"]
