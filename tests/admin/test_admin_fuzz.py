"""Property-based requests to every /api/admin operation, as an admin, on PostgreSQL (the
stricter engine: NUL bytes, casts): never a 5xx, whatever the input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from adminkit import (
    ADMIN_EMAIL,
    PASSWORD,
    api_world,
    insert_jobs,
    job_row,
    root_conftest,
)
from hypothesis import HealthCheck, settings

from ledgerflow.api.app import create_app
from ledgerflow.jobs import Queue
from ledgerflow.server import session_for
from ledgerflow.tenancy import create_user

_app = create_app(api_world.make_settings("sqlite:///unused.db", Path("unused")))
schema = schemathesis.openapi.from_dict(_app.openapi()).include(path_regex="^/api/admin")


@pytest.fixture(scope="module")
def live(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from live import serve

    pg_schema, db_url = root_conftest.new_pg_schema(pg_database)
    try:
        with session_for(db_url) as session:
            create_user(session, ADMIN_EMAIL, PASSWORD, is_admin=True)
        with Queue(db_url) as queue:
            now = time.time()
            insert_jobs(
                queue,
                job_row(status="failed", error="boom", meta='{"file_name": "a.csv"}'),
                job_row(status="running", lease_expires_at=now - 5),
                job_row(status="pending", created_at=now - 4000),
            )
        app = create_app(api_world.make_settings(db_url, tmp_path_factory.mktemp("fuzz")))
        with serve(app) as url:
            token = httpx.post(
                f"{url}/api/auth/token", data={"username": ADMIN_EMAIL, "password": PASSWORD}
            ).json()["access_token"]
            yield {"url": url, "headers": {"Authorization": f"Bearer {token}"}}
    finally:
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{pg_schema}" CASCADE')


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_admin_endpoints_never_fail_with_5xx(case: Any, live: dict[str, Any]) -> None:
    response = case.call(base_url=live["url"], headers=live["headers"])
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
