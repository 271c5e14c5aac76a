"""Engines, sessions and migrations for the books.

SQLite connections get WAL (readers never block the writer), ``foreign_keys=ON`` (without it
SQLite ignores every foreign key, including the deferred one that keeps journal entries
balanced) and a busy timeout. SQLAlchemy, not pysqlite, decides where transactions begin, so a
session's reads and writes share one snapshot and deferred constraints are checked at its COMMIT.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

VERSION_TABLE = "lf_books_alembic_version"
HEAD = "0003"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg://``; the query string (``?options=...``) stays."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    if scheme in {"postgresql", "postgres"}:
        return "postgresql+psycopg://" + rest
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(sqlalchemy_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite would otherwise open transactions lazily and commit around some DDL on its
        # own; with isolation_level=None it stays out and the "begin" hook below decides.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', '')}")


def writer(engine: Engine) -> Engine:
    """The same engine, for sessions that will write.

    On SQLite their transactions begin IMMEDIATE: a deferred transaction that read first and
    writes later fails at once ("database is locked") if another connection committed in
    between, which busy_timeout cannot wait out. PostgreSQL ignores the option.
    """
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception (then re-raise)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["url"] = sqlalchemy_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the books' tables to ``revision`` (idempotent; cheap when already current)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
