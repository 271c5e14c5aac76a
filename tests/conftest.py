"""Database fixtures: every test gets its own SQLite file or its own PostgreSQL schema.

PostgreSQL tests use a database this session creates on 127.0.0.1:5432 (``LEDGERFLOW_TEST_PG``
overrides the server URL) and drops at the end; each test gets a fresh schema in it, selected
through the connection's ``search_path``, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

PG_SERVER = os.environ.get("LEDGERFLOW_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ENGINES = ["sqlite", "postgresql"]


def _server_url(database: str) -> str:
    base, _, _ = PG_SERVER.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this test session; dropped afterwards."""
    name = f"lf_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_schema_url(database_url: str, schema: str) -> str:
    options = quote(f"-csearch_path={schema}")
    return f"{database_url}?options={options}"


def new_pg_schema(database_url: str) -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, pg_schema_url(database_url, schema)


@pytest.fixture(params=ENGINES)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database URL, once per engine."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        yield f"sqlite:///{path}"
        return
    database_url: str = request.getfixturevalue("pg_database")
    schema, url = new_pg_schema(database_url)
    try:
        yield url
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
