"""Alembic environment for the job runtime's tables (version table ``lf_jobs_alembic_version``)."""

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from ledgerflow.jobs.schema import metadata

VERSION_TABLE = "lf_jobs_alembic_version"
_MIGRATION_LOCK = 0x1F_0B5_0001


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # Share a database with other apps: only our tables are ours to compare or change.
    if type_ == "table":
        return name in metadata.tables
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


def configure_and_run(conn: Connection) -> None:
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
