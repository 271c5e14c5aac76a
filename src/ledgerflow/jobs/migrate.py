"""Bring a database to the runtime's schema with Alembic (idempotent; cheap when current)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BackendError

HEAD = "0007"
VERSION_TABLE = "lf_jobs_alembic_version"


def sqlalchemy_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if scheme in {"postgresql", "postgres"}:
        return "postgresql+psycopg://" + rest
    return url


def alembic_config(url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["url"] = sqlalchemy_url(url)
    return config


def upgrade(url: str) -> None:
    from alembic import command

    try:
        command.upgrade(alembic_config(url), "head")  # type: ignore[arg-type]
    except Exception as exc:  # Alembic and SQLAlchemy raise many types; one is enough here
        raise BackendError(f"migrating {url!r} failed: {exc}") from exc


def run_environment(metadata: Any, version_table: str, lock_id: int) -> None:
    """The body of an Alembic ``env.py`` for one component's tables in a shared database.

    Several components (this runtime, an application's own models) keep their own migrations
    and version tables in one database: each compares and changes only the tables of its own
    ``metadata``. On PostgreSQL an advisory lock keeps two processes starting at once from
    both creating the tables.
    """
    from alembic import context
    from sqlalchemy import create_engine, pool, text

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table":
            return name in metadata.tables
        table = getattr(obj, "table", None)
        if table is not None and getattr(table, "name", None) is not None:
            return table.name in metadata.tables
        return True

    def configure_and_run(conn: Any) -> None:
        context.configure(
            connection=conn,
            target_metadata=metadata,
            version_table=version_table,
            include_object=include_object,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    connection = context.config.attributes.get("connection")
    if connection is not None:
        configure_and_run(connection)
        return
    engine = create_engine(context.config.attributes["url"], poolclass=pool.NullPool)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_lock({lock_id})"))
            conn.commit()
        configure_and_run(conn)
        conn.commit()
