"""INSERTs and UPDATEs of many plain tuples, for the import and categorization hot paths.

SQLAlchemy's executemany builds a parameter dict per row and runs every value through its type
processing; at 100,000 rows that costs more than the database does. Here the caller passes
tuples in column order, only the columns whose type needs a conversion on this engine (dates on
SQLite, the UTC datetimes) are converted, column by column, and the driver gets the rows as they
are: SQLite's executemany reuses one prepared statement; PostgreSQL gets multi-row
``VALUES`` lists, which also makes its statement-level triggers fire once per statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

# PostgreSQL takes at most 65,535 parameters per statement.
_PG_MAX_PARAMS = 30_000
_PG_MAX_ROWS = 1_000


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    skip_conflicts_on: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` (tuples in the order of ``columns``) in the session's transaction and
    return how many were inserted; with ``skip_conflicts_on``, rows that collide with a stored
    row on those (unique) columns are skipped, not counted."""
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    rows = _converted(table, columns, rows, dialect)
    placeholder = _placeholder(dialect)
    values = "(" + ", ".join([placeholder] * len(columns)) + ")"
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
    tail = ""
    if skip_conflicts_on:
        tail = f" ON CONFLICT ({', '.join(quote(c) for c in skip_conflicts_on)}) DO NOTHING"
    if dialect.name == "sqlite":
        return int(connection.exec_driver_sql(head + values + tail, list(rows)).rowcount)
    per_statement = min(_PG_MAX_ROWS, _PG_MAX_PARAMS // len(columns))
    inserted = 0
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        statement = head + ", ".join([values] * len(chunk)) + tail
        params = tuple(value for row in chunk for value in row)
        inserted += connection.exec_driver_sql(statement, params).rowcount
    return inserted


def update_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    key: str = "id",
    where: str = "",
) -> int:
    """For each row (the values of ``columns``, then the key's), set those columns on the row
    with that key, if it also matches the SQL condition ``where``; returns how many changed."""
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    placeholder = _placeholder(dialect)
    assignments = ", ".join(f"{quote(c)} = {placeholder}" for c in columns)
    condition = f"{quote(key)} = {placeholder}" + (f" AND ({where})" if where else "")
    statement = f"UPDATE {quote(table.name)} SET {assignments} WHERE {condition}"
    rows = _converted(table, [*columns, key], rows, dialect)
    return int(connection.exec_driver_sql(statement, list(rows)).rowcount)


def _placeholder(dialect: Any) -> str:
    return "?" if dialect.paramstyle == "qmark" else "%s"


def _converted(
    table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], dialect: Any
) -> Sequence[tuple[Any, ...]]:
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    if not any(processors):
        return rows
    by_column: list[Any] = list(zip(*rows, strict=True))
    for i, process in enumerate(processors):
        if process is not None:
            # A column repeats few distinct values (the import's timestamp, a statement's dates).
            done: dict[Any, Any] = {}
            by_column[i] = [
                done[v] if v in done else done.setdefault(v, process(v)) for v in by_column[i]
            ]
    return list(zip(*by_column, strict=True))
