"""Property-based requests against every documented operation: no 5xx, whatever the input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from live import serve

from conftest import make_settings, seed
from ledgerflow.api.app import create_app

# The schema does not depend on the database, so it is read once, at collection.
schema = schemathesis.openapi.from_dict(
    create_app(make_settings("sqlite:///unused.db", Path("unused"))).openapi()
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    db_url = f"sqlite:///{tmp / 'api.db'}"
    seed(db_url)
    with serve(create_app(make_settings(db_url, tmp))) as url:
        token = httpx.post(
            f"{url}/api/auth/token", data={"username": "alice@acme.test", "password": "secret-pw"}
        ).json()["access_token"]
        yield {"url": url, "headers": {"Authorization": f"Bearer {token}"}}


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: Any, live: dict[str, Any]) -> None:
    response = case.call(base_url=live["url"], headers=live["headers"])
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
