"""Alembic environment for the books' tables (version table ``lf_books_alembic_version``).

The database is shared with the job runtime (``lf_jobs``, ``lf_workers``, ...), which has its
own migrations; this environment only compares and changes tables declared in the books' models.
"""

from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool, text

from ledgerflow.books.db import VERSION_TABLE
from ledgerflow.books.models import Base

metadata = Base.metadata
_MIGRATION_LOCK = 0x1F_B00C_0001


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table":
        return name in metadata.tables
    table = getattr(obj, "table", None)
    if table is not None and getattr(table, "name", None) is not None:
        return table.name in metadata.tables
    return True


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        configure_and_run(connection)
        return
    engine = create_engine(context.config.attributes["url"], poolclass=pool.NullPool)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting at once must not both create the tables.
            conn.execute(text(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})"))
            conn.commit()
        configure_and_run(conn)
        conn.commit()


def configure_and_run(conn: Any) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
