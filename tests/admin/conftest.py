"""Fixtures: one app per engine per module, with an instance admin (``root@ops.test``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from adminkit import ADMIN_EMAIL, PASSWORD, AdminWorld, api_world, root_conftest

from ledgerflow.jobs import series as series_module
from ledgerflow.server import session_for
from ledgerflow.tenancy import create_user


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per engine for a whole test module (the world is slow to build)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('admin-db') / 'test.db'}"
        return
    database_url: str = request.getfixturevalue("pg_database")
    schema, url = root_conftest.new_pg_schema(database_url)
    try:
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def shared_world(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminWorld]:
    with session_for(module_db) as session:
        create_user(session, ADMIN_EMAIL, PASSWORD, is_admin=True)
    with api_world.make_world(module_db, tmp_path_factory.mktemp("admin-world")) as world:
        answer = world.client.post(
            "/api/auth/token", data={"username": ADMIN_EMAIL, "password": PASSWORD}
        )
        world.tokens["root"] = answer.json()["access_token"]
        yield AdminWorld(world, world.client.app.state.runtime.queue)


@pytest.fixture
def admin_world(shared_world: AdminWorld) -> AdminWorld:
    """The module's world with no jobs, no workers and no cached series buckets."""
    backend: Any = shared_world.queue.backend
    for table in ("lf_jobs", "lf_workers"):
        backend.run(lambda c, table=table: backend.execute(c, f"DELETE FROM {table}"))
    series_module._BUCKETS.pop(shared_world.queue.url, None)
    shared_world.client.cookies.clear()
    return shared_world
